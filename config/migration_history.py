"""A system check (run by `migrate` and `check --database default`): a database that applied only
part of the migrations a squashed migration replaces cannot be upgraded by this release.

Django leaves such a history alone: the squashed migration is dropped from the plan, the replaced
files are gone, so `migrate` would report nothing to apply with tables missing. The check names
the app and the way out instead (docs/operations.md, 'Upgrading')."""

from django.core.checks import Error, Tags, register
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder


@register(Tags.database)
def check_squashed_migrations(app_configs=None, databases=None, **kwargs) -> list[Error]:
    errors: list[Error] = []
    for alias in databases or []:
        recorder = MigrationRecorder(connections[alias])
        if not recorder.has_table():
            continue
        applied = recorder.applied_migrations()
        loader = MigrationLoader(None, ignore_no_migrations=True)
        for (app, name), migration in sorted(loader.disk_migrations.items()):
            done = sum(key in applied for key in migration.replaces)
            if 0 < done < len(migration.replaces):
                errors.append(
                    Error(
                        f"{app}: {done} of the {len(migration.replaces)} migrations that {name} replaces are "
                        "applied, so this release cannot migrate the database.",
                        hint="Migrate on the previous release first (docs/operations.md, 'Upgrading').",
                        id="relink.E001",
                    )
                )
    return errors
