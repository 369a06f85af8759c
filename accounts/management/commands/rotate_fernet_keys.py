"""Re-encrypt every secret at rest with the first key of FERNET_KEYS.

Rotation: put a new key first in FERNET_KEYS (keep the old ones after it), deploy, run this
command, then remove the old keys. `--check` only reports how many values still need the
old keys."""

from django.core.management.base import BaseCommand, CommandError

from accounts.crypto import encrypted_fields, is_primary_ciphertext
from accounts.services import encrypted_fields_reencrypt_all, linked_account_reencrypt_all


def _values_not_on_primary_key() -> dict[str, int]:
    left = {}
    for model, field in encrypted_fields():
        rows = model._default_manager.exclude(**{field: ""}).exclude(**{f"{field}__isnull": True})
        stale = sum(
            1
            for value in rows.values_list(field, flat=True).iterator(chunk_size=500)
            if not is_primary_ciphertext(value)
        )
        left[f"{model._meta.label}.{field}"] = stale
    return left


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column with the first key of FERNET_KEYS."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Only count the values not yet encrypted with the first key."
        )

    def handle(self, *args, check: bool = False, **options):
        if not check:
            accounts = linked_account_reencrypt_all()
            self.stdout.write(f"LinkedAccount: {accounts} accounts re-encrypted (token and credentials)")
            for label, count in encrypted_fields_reencrypt_all().items():
                self.stdout.write(f"{label}: {count} values re-encrypted")
        left = _values_not_on_primary_key()
        stale = sum(left.values())
        for label, count in left.items():
            if count:
                self.stdout.write(f"{label}: {count} values still need an old key")
        if stale:
            raise CommandError(f"{stale} values still need an old key: keep the old keys in FERNET_KEYS.")
        self.stdout.write(
            self.style.SUCCESS("Every secret is encrypted with the first key: the old keys can be removed.")
        )
