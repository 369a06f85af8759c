import secrets
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import LinkedAccount


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def bulk_accounts(organization, n: int, *, status="COMPLETE", due: bool = True, prefix="bulk") -> list:
    """Many linked accounts at once (no history rows: scheduling tests only need the rows)."""
    now = timezone.now()
    rows = [
        LinkedAccount(
            organization=organization,
            category="hris",
            integration="sandbox",
            end_user_origin_id=f"{prefix}-{i}",
            end_user_organization_name=f"{prefix} {i}",
            end_user_email_address=f"{prefix}{i}@example.com",
            account_type="PRODUCTION",
            status=status,
            account_token_hash=secrets.token_hex(32),
            account_token_encrypted="x",
            next_sync_at=now - timedelta(seconds=5) if due else now + timedelta(hours=1),
        )
        for i in range(n)
    ]
    return LinkedAccount.objects.bulk_create(rows, batch_size=1000)
