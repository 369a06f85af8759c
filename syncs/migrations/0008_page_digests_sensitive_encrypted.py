"""Two changes of one release. A sync run keeps the digests of the pages it stored
(`SyncRun.page_digests`, syncs/page_digests.py). An Employee's ssn and date_of_birth are
encrypted at rest (syncs/sensitive.py): the clear columns become `ssn_encrypted` /
`date_of_birth_encrypted` (Fernet, the first key of FERNET_KEYS), the rows synced before are
encrypted in place, and back again on the way down. Only rows holding a value
are touched, a thousand at a time. Their content digest was of the clear values: the next sync
of each such record writes it once more (with the digest of its fingerprint), then skips it."""

from django.db import migrations, models
from django.db.models import Q

BATCH = 1000
NAMES = ("ssn", "date_of_birth")


def _convert(apps, *, source: str, target: str, convert) -> None:
    """Rows with a value in a `source` column: `target` columns = convert(name, value)."""
    Employee = apps.get_model("syncs", "Employee")
    sources = [source.format(name) for name in NAMES]
    targets = [target.format(name) for name in NAMES]
    holding = Q()
    for column in sources:
        holding |= Q(**{f"{column}__isnull": False})
    batch = []
    for row in Employee.objects.filter(holding).only("id", *sources).iterator(chunk_size=BATCH):
        for name, column, out in zip(NAMES, sources, targets, strict=True):
            setattr(row, out, convert(name, getattr(row, column)))
        batch.append(row)
        if len(batch) == BATCH:
            Employee.objects.bulk_update(batch, targets)
            batch = []
    Employee.objects.bulk_update(batch, targets)


def encrypt_rows(apps, schema_editor):
    from syncs.sensitive import encrypt_value

    _convert(apps, source="{}", target="{}_encrypted", convert=lambda name, value: encrypt_value(value))


def decrypt_rows(apps, schema_editor):
    from syncs.sensitive import reveal, reveal_datetime

    def clear(name, stored):
        if name == "date_of_birth":
            return reveal_datetime(stored)
        return (reveal(stored) or "")[:64] or None  # the clear column's length

    _convert(apps, source="{}_encrypted", target="{}", convert=clear)


class Migration(migrations.Migration):
    dependencies = [
        ("syncs", "0001_squashed_0007_oauth_token"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncrun",
            name="page_digests",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        *(
            migrations.AddField(
                model_name="employee", name=f"{name}_encrypted", field=models.TextField(blank=True, null=True)
            )
            for name in NAMES
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows, elidable=False),
        *(migrations.RemoveField(model_name="employee", name=name) for name in NAMES),
    ]
