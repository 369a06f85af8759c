import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import LinkedAccount
from syncs.integrations import base
from syncs.integrations.base import ErrorClass, ProviderError
from tests.rows import linked_account_row


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def no_sleep(monkeypatch) -> list[float]:
    """The waits the integrations' HTTP client asks for (Retry-After, rate-limit resets, backoff),
    recorded instead of slept; the clock itself runs on."""
    waits = []
    monkeypatch.setattr(
        base, "time", SimpleNamespace(sleep=waits.append, monotonic=time.monotonic, time=time.time)
    )
    return waits


def fetch_all(integration, credentials: dict, model: str) -> list[list]:
    """Every page the integration fetches for `model`, in a session of its own."""
    return list(integration.fetch_pages(credentials, integration.session(credentials), model))


def validate(integration, credentials: dict) -> None:
    integration.validate(credentials, integration.session(credentials))


def raised_error_class(call, *args) -> ErrorClass:
    """The error class of the ProviderError that call(*args) raises (the test fails if none)."""
    with pytest.raises(ProviderError) as exc:
        call(*args)
    return exc.value.error_class


def bulk_accounts(organization, n: int, *, status="COMPLETE", due: bool = True, prefix="bulk") -> list:
    """Many linked accounts at once (no history rows: scheduling tests only need the rows)."""
    now = timezone.now()
    rows = [
        linked_account_row(
            organization,
            i,
            prefix=prefix,
            status=status,
            next_sync_at=now - timedelta(seconds=5) if due else now + timedelta(hours=1),
        )
        for i in range(n)
    ]
    return LinkedAccount.objects.bulk_create(rows, batch_size=1000)
