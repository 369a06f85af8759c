"""The account token a LinkedAccount.linked webhook carries (issue 14, finding 4).

Defends against: the token sitting in plain text in `WebhookDelivery.body` for the 30 days a
delivery is kept (readable by anyone with database, backup or admin access), the Django admin
showing delivery bodies, and a token-bearing delivery being sent to a URL the endpoint was
changed to after the event (whoever changes the URL would collect live account tokens by
redelivering old events).

Test by test (what each defends against):
- test_the_token_is_sent_but_never_stored_in_the_delivery: the token kept in plain text for 30 days.
- test_the_admin_does_not_show_delivery_bodies: the admin showing payloads and tokens.
- test_no_token_bearing_delivery_goes_to_a_url_changed_after_the_event: collecting tokens by changing the
  URL and redelivering.
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import LinkedAccount
from accounts.selectors import linked_account_token
from issues.models import AttemptOutcome, DeliveryStatus, WebhookDelivery
from issues.webhooks.delivery import webhook_deliveries_send
from issues.webhooks.endpoints import webhook_endpoint_create, webhook_endpoint_update
from issues.webhooks.events import webhook_event_emit
from issues.webhooks.sweeps import webhook_delivery_redeliver
from tests.issues.receiver import Receiver
from tests.linking.helpers import create_link_token, sandbox_finish

pytestmark = pytest.mark.django_db


@pytest.fixture
def receivers():
    first, second = Receiver().start(), Receiver().start()
    yield first, second
    first.stop()
    second.stop()


def _link(owner, receiver):
    """A new account linked through the public-token endpoint; its LinkedAccount.linked delivery."""
    endpoint, key = webhook_endpoint_create(
        organization=owner.organization, url=receiver.url, events=["LinkedAccount.linked"]
    )
    receiver.signature_key = key
    response = sandbox_finish(
        owner, create_link_token(owner, origin_id="tok-1")["link_token"], "sk_sandbox_t"
    )
    assert response.status_code == 201, response.content
    account = LinkedAccount.objects.get()
    [delivery] = WebhookDelivery.objects.filter(event="LinkedAccount.linked")
    return endpoint, account, delivery


def test_the_token_is_sent_but_never_stored_in_the_delivery(owner, sandbox_provider, receivers):
    receiver, _ = receivers
    _, account, delivery = _link(owner, receiver)
    token = linked_account_token(account=account)

    row = WebhookDelivery.objects.filter(pk=delivery.pk).values().get()
    assert token not in json.dumps(row, default=str)  # not in the body, nor any other column

    assert webhook_deliveries_send(delivery_ids=[delivery.id]) == {delivery.id: AttemptOutcome.SUCCESS}
    [got] = receiver.received
    assert got.json["data"] == {"is_relink": False, "account_token": token}  # the receiver gets it
    assert got.merge_signature_ok and got.standard_signature_ok  # signed over what was sent
    assert token not in json.dumps(WebhookDelivery.objects.filter(pk=delivery.pk).values().get(), default=str)


def test_the_admin_does_not_show_delivery_bodies(owner, sandbox_provider, receivers):
    receiver, _ = receivers
    _, account, delivery = _link(owner, receiver)
    webhook_deliveries_send(delivery_ids=[delivery.id])
    user = get_user_model().objects.create_superuser(username="root", password="root-password-1")
    client = Client()
    client.force_login(user)
    html = client.get(reverse("admin:issues_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert str(delivery.pk) in html  # the page is the delivery's
    assert linked_account_token(account=account) not in html
    assert '"linked_account"' not in html and "is_relink" not in html  # no body at all


def test_no_token_bearing_delivery_goes_to_a_url_changed_after_the_event(owner, sandbox_provider, receivers):
    first, second = receivers
    first.default.status = 500  # the first attempt fails: the delivery stays pending
    endpoint, account, delivery = _link(owner, first)
    assert webhook_deliveries_send(delivery_ids=[delivery.id]) == {delivery.id: AttemptOutcome.TRANSIENT}

    webhook_endpoint_update(endpoint=endpoint, url=second.url)
    second.signature_key = first.signature_key

    # An operator's redelivery is refused with the reason...
    with pytest.raises(ValidationError, match="URL"):
        webhook_delivery_redeliver(delivery=delivery)
    # ...and the pending retry is not sent to the new URL: it fails for good.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    assert webhook_deliveries_send(delivery_ids=[delivery.id]) == {delivery.id: AttemptOutcome.PERMANENT}
    assert second.received == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "URL" in delivery.last_error

    # Events without the token still go to the new URL.
    endpoint.events = ["LinkedAccount.linked", "LinkedAccount.sync_completed"]
    endpoint.save(update_fields=["events"])
    [other] = webhook_event_emit(
        organization=owner.organization,
        event="LinkedAccount.sync_completed",
        account_details={"id": str(account.id)},
        data={"n": 1},
    )
    assert webhook_deliveries_send(delivery_ids=[other.id]) == {other.id: AttemptOutcome.SUCCESS}
    assert [r.json["hook"]["event"] for r in second.received] == ["LinkedAccount.sync_completed"]
