"""Linked-account rows for tests that need many at once: unsaved model instances for
`bulk_create` (no services, no status history), a sandbox HRIS account by default."""

import secrets

from accounts.models import LinkedAccount


def linked_account_row(organization, n: int, *, prefix: str = "bulk", **fields) -> LinkedAccount:
    """The `n`th row of a batch: origin id `<prefix>-<n>`, its own random token hash; `fields`
    override any column."""
    values = {
        "organization": organization,
        "category": "hris",
        "integration": "sandbox",
        "end_user_origin_id": f"{prefix}-{n}",
        "end_user_organization_name": f"{prefix} {n}",
        "end_user_email_address": f"{prefix}{n}@example.com",
        "account_type": "PRODUCTION",
        "account_token_hash": secrets.token_hex(32),
        "account_token_encrypted": "x",
    }
    return LinkedAccount(**(values | fields))
