"""Fixtures of the link-flow tests."""

import pytest

from issues.services import webhook_endpoint_create


@pytest.fixture
def webhook_endpoint(owner):
    endpoint, _ = webhook_endpoint_create(
        organization=owner.organization,
        url="https://hooks.example.com/relink",
        events=["LinkedAccount.linked", "Issue.resolved"],
    )
    return endpoint


@pytest.fixture
def sandbox_provider(settings, monkeypatch):
    # TEMPORARY until the syncs helper's shared fixture lands in tests/conftest.py.
    from syncs.sandbox_provider import serve_in_thread

    running = serve_in_thread(control_token=settings.SANDBOX_CONTROL_TOKEN)
    settings.SANDBOX_PROVIDER_URL = running.url
    monkeypatch.setenv("SANDBOX_PROVIDER_URL", running.url)
    monkeypatch.setenv("SANDBOX_CONTROL_TOKEN", settings.SANDBOX_CONTROL_TOKEN)
    yield running
    running.stop()
