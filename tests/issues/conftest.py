"""Shared by the webhook delivery tests: a real receiver on 127.0.0.1 and an endpoint on it."""

import pytest

from accounts.selectors import linked_account_details
from issues.models import WebhookDelivery
from issues.webhooks.endpoints import webhook_endpoint_create
from issues.webhooks.events import webhook_event_emit


@pytest.fixture
def hooked(owner, receiver):
    endpoint, key = webhook_endpoint_create(organization=owner.organization, url=receiver.url)
    receiver.signature_key = key
    account, _ = owner.linked_account()
    return endpoint, account


def emit_many(account, n: int) -> list[WebhookDelivery]:
    """n LinkedAccount.sync_completed events about `account`, in the caller's transaction."""
    return [
        delivery
        for i in range(n)
        for delivery in webhook_event_emit(
            organization=account.organization,
            event="LinkedAccount.sync_completed",
            account_details=linked_account_details(account=account),
            data={"n": i},
        )
    ]
