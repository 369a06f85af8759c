"""Each app's migration history is squashed into one migration that keeps `replaces`: a database
migrated by the replaced files (a deployed one) counts it as applied and has nothing to run, a
migration written against a replaced name runs after the squashed one, and a database that
applied only part of a history is refused by a system check (docs/operations.md, 'Upgrading').
On the test database (real PostgreSQL or SQLite), with `django_migrations` rewritten as an older
release left it."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder

from config.migration_history import check_squashed_migrations

APPS = ("accounts", "issues", "linking", "syncs")


def _squashed() -> dict[str, Migration]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    squashed = {app: m for (app, _), m in loader.disk_migrations.items() if app in APPS and m.replaces}
    assert sorted(squashed) == sorted(APPS)
    return squashed


def _record_as_an_older_release(*, unapplied: tuple[str, str] | None = None) -> None:
    """django_migrations as a database migrated by the replaced files has it (less `unapplied`)."""
    recorder = MigrationRecorder(connection)
    for app, migration in _squashed().items():
        recorder.record_unapplied(app, migration.name)
        for key in migration.replaces:
            recorder.record_applied(*key)
    if unapplied:
        recorder.record_unapplied(*unapplied)


class _WithANewMigration(MigrationLoader):
    """The migrations on disk and one more, written against the replaced names (as a branch
    started before the squash would have it)."""

    def load_disk(self):
        super().load_disk()
        new = Migration("0008_new", "syncs")
        new.dependencies = [("syncs", "0007_oauth_token"), ("linking", "0003_oauth")]
        self.disk_migrations[("syncs", "0008_new")] = new


@pytest.mark.django_db
def test_a_database_migrated_by_the_replaced_files_has_nothing_to_apply():
    _record_as_an_older_release()
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    # `migrate` records the squashed names beside the replaced ones.
    executor.check_replacements()
    applied = MigrationRecorder(connection).applied_migrations()
    assert {(app, m.name) for app, m in _squashed().items()} <= set(applied)
    assert check_squashed_migrations(databases=["default"]) == []


@pytest.mark.django_db
def test_a_migration_written_against_a_replaced_name_runs_after_the_squashed_one():
    _record_as_an_older_release()
    loader = _WithANewMigration(connection)
    before = loader.graph.forwards_plan(("syncs", "0008_new"))
    assert ("syncs", _squashed()["syncs"].name) in before
    assert ("linking", _squashed()["linking"].name) in before
    assert not any(key in before for m in _squashed().values() for key in m.replaces)
    pending = [key for key in before if key not in loader.applied_migrations]
    assert pending == [("syncs", "0008_new")]


@pytest.mark.django_db
def test_a_database_that_applied_part_of_a_history_is_refused():
    _record_as_an_older_release(unapplied=("syncs", "0007_oauth_token"))
    errors = check_squashed_migrations(databases=["default"])
    assert [e.id for e in errors] == ["relink.E001"]
    assert "syncs: 6 of the 7 migrations" in errors[0].msg and "previous release" in errors[0].hint
    with pytest.raises(SystemCheckError, match="relink.E001"):
        call_command("migrate", verbosity=0, skip_checks=False)
