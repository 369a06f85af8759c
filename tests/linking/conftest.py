"""Fixtures of the link-flow tests."""

import pytest

from issues.webhooks.endpoints import webhook_endpoint_create


@pytest.fixture
def webhook_endpoint(owner):
    endpoint, _ = webhook_endpoint_create(
        organization=owner.organization,
        url="https://hooks.example.com/relink",
        events=["LinkedAccount.linked", "Issue.resolved"],
    )
    return endpoint
