"""Webhook endpoints, event emission and the status-history outbox (no network here)."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.crypto import decrypt_str
from accounts.models import LinkedAccountStatusChange
from accounts.services import linked_account_delete, linked_account_mark_relink_needed
from issues.models import WebhookDelivery, WebhookEndpoint
from issues.selectors import webhook_endpoint_signature_key
from issues.webhooks.endpoints import ALL_EVENTS, webhook_endpoint_create, webhook_endpoint_rotate_key
from issues.webhooks.events import webhook_event_emit
from issues.webhooks.outbox import status_changes_process
from issues.webhooks.sweeps import webhook_deliveries_prune

pytestmark = pytest.mark.django_db


def test_endpoint_gets_an_encrypted_signature_key_and_rotates_it(owner):
    endpoint, key = webhook_endpoint_create(
        organization=owner.organization, url="https://hooks.example.com/relink"
    )
    assert key.startswith("whsec_")
    assert key not in endpoint.signature_key_encrypted
    assert decrypt_str(endpoint.signature_key_encrypted) == key
    assert webhook_endpoint_signature_key(endpoint=endpoint) == key
    assert endpoint.events == ALL_EVENTS
    new_key = webhook_endpoint_rotate_key(endpoint=endpoint)
    assert new_key != key
    endpoint.refresh_from_db()
    assert webhook_endpoint_signature_key(endpoint=endpoint) == new_key


@pytest.mark.parametrize(
    "url,reason",
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("not a url", "http:// or https://"),
        ("http://", "valid"),
    ],
)
def test_endpoint_url_must_be_http(owner, url, reason):
    with pytest.raises(ValidationError) as exc:
        webhook_endpoint_create(organization=owner.organization, url=url)
    assert reason in str(exc.value)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ],
)
def test_private_addresses_are_refused_in_production_mode(owner, settings, url):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    with pytest.raises(ValidationError) as exc:
        webhook_endpoint_create(organization=owner.organization, url=url)
    assert "private or loopback" in str(exc.value)


def test_loopback_addresses_are_allowed_in_debug_and_tests(owner, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    endpoint, _ = webhook_endpoint_create(organization=owner.organization, url="http://127.0.0.1:8000/hook")
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == "http://127.0.0.1:8000/hook"
    settings.OUTBOUND_ALLOW_LOOPBACK = False  # the same URL outside DEBUG and tests
    with pytest.raises(ValidationError, match="private or loopback"):
        webhook_endpoint_create(organization=owner.organization, url="http://127.0.0.1:8000/hook")


def test_unknown_event_names_are_refused_by_name(owner):
    with pytest.raises(ValidationError) as exc:
        webhook_endpoint_create(
            organization=owner.organization,
            url="https://x.example.com",
            events=["Issue.new", "Issue.exploded"],
        )
    assert "Issue.exploded" in str(exc.value)


def test_emit_writes_one_row_per_subscribed_enabled_endpoint(owner, outsider):
    account, _ = owner.linked_account()
    issues_only, _ = webhook_endpoint_create(
        organization=owner.organization, url="https://a.example.com", events=["Issue.new"]
    )
    everything, _ = webhook_endpoint_create(organization=owner.organization, url="https://b.example.com")
    disabled, _ = webhook_endpoint_create(
        organization=owner.organization, url="https://c.example.com", enabled=False
    )
    other_org, _ = webhook_endpoint_create(organization=outsider.organization, url="https://d.example.com")
    from accounts.selectors import linked_account_details

    webhook_event_emit(
        organization=owner.organization,
        event="LinkedAccount.sync_completed",
        account_details=linked_account_details(account=account),
        data={"models": 3},
    )
    rows = list(WebhookDelivery.objects.all())
    assert [r.endpoint_id for r in rows] == [everything.id]
    body = json.loads(rows[0].body)
    assert set(body) == {"hook", "linked_account", "data"}
    assert body["hook"] == {
        "id": str(rows[0].id),
        "event": "LinkedAccount.sync_completed",
        "target": everything.url,
    }
    assert body["data"] == {"models": 3}
    assert "account_token" not in json.dumps(body["linked_account"])
    # Not subscribed, disabled, another organization's: none of them got a row.
    assert not WebhookDelivery.objects.filter(endpoint__in=[issues_only, disabled, other_org]).exists()


def test_emit_rejects_unknown_events(owner):
    with pytest.raises(ValueError):
        webhook_event_emit(organization=owner.organization, event="Nope.never", account_details={}, data={})


def test_status_change_outbox_becomes_status_changed_and_deleted_events(owner):
    endpoint, _ = webhook_endpoint_create(organization=owner.organization, url="https://a.example.com")
    account, _ = owner.linked_account()  # creation (no event) + COMPLETE
    linked_account_mark_relink_needed(account=account, reason="Invalid API key")
    linked_account_delete(account=account, reason="Deleted through the API")
    assert status_changes_process() == 4
    assert status_changes_process() == 0
    assert not LinkedAccountStatusChange.objects.filter(processed_at__isnull=True).exists()
    bodies = [json.loads(d.body) for d in WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id")]
    assert [b["hook"]["event"] for b in bodies] == [
        "LinkedAccount.status_changed",
        "LinkedAccount.status_changed",
        "LinkedAccount.deleted",
    ]
    assert bodies[0]["data"] == {"from": "INCOMPLETE", "to": "COMPLETE", "reason": "Linked in test"}
    assert bodies[1]["data"] == {"from": "COMPLETE", "to": "RELINK_NEEDED", "reason": "Invalid API key"}
    assert bodies[1]["linked_account"]["status"] == "RELINK_NEEDED"
    assert bodies[2]["linked_account"]["id"] == str(account.id)
    assert bodies[2]["data"]["reason"] == "Deleted through the API"


def test_status_change_listener_runs_on_commit(owner, django_capture_on_commit_callbacks):
    webhook_endpoint_create(
        organization=owner.organization, url="https://a.example.com", events=["LinkedAccount.status_changed"]
    )
    account, _ = owner.linked_account(complete=False)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        from accounts.services import linked_account_mark_complete

        linked_account_mark_complete(account=account, reason="Linked")
    assert WebhookDelivery.objects.filter(event="LinkedAccount.status_changed").count() == 1
    assert not LinkedAccountStatusChange.objects.filter(
        processed_at__isnull=True, to_status="COMPLETE"
    ).exists()


def test_prune_forgets_old_finished_deliveries_but_keeps_pending_ones(owner):
    import time_machine
    from django.utils import timezone

    from issues.models import DeliveryStatus, WebhookAttempt

    webhook_endpoint_create(organization=owner.organization, url="https://a.example.com")
    account, _ = owner.linked_account()  # status_changed rows are not processed here
    from accounts.selectors import linked_account_details

    def emit():
        return webhook_event_emit(
            organization=owner.organization,
            event="LinkedAccount.sync_completed",
            account_details=linked_account_details(account=account),
            data={},
        )[0]

    with time_machine.travel(timezone.now() - timezone.timedelta(days=40)):
        old_done, old_pending = emit(), emit()
    recent_done = emit()
    WebhookDelivery.objects.filter(pk__in=[old_done.pk, recent_done.pk]).update(
        status=DeliveryStatus.SUCCEEDED
    )
    WebhookAttempt.objects.create(delivery=old_done, number=1, started_at=timezone.now(), outcome="SUCCESS")
    assert webhook_deliveries_prune(older_than_days=30) == 1
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {old_pending.pk, recent_done.pk}
    assert not WebhookAttempt.objects.exists()
