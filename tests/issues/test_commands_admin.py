"""The add_webhook / rotate_webhook_key commands and the admin actions."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.crypto import decrypt_str
from issues import services
from issues.models import DeliveryStatus, Issue, WebhookDelivery, WebhookEndpoint
from issues.webhooks.endpoints import ALL_EVENTS, webhook_endpoint_create

pytestmark = pytest.mark.django_db


def test_add_webhook_json(owner):
    out = StringIO()
    call_command(
        "add_webhook",
        str(owner.organization.id),
        "https://hooks.example.com/relink",
        "--events",
        "Issue.new,Issue.resolved",
        "LinkedAccount.linked",
        "--json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert set(data) == {"endpoint_id", "signature_key"}
    endpoint = WebhookEndpoint.objects.get(pk=data["endpoint_id"])
    assert endpoint.organization_id == owner.organization.id
    assert endpoint.events == ["LinkedAccount.linked", "Issue.new", "Issue.resolved"]
    assert decrypt_str(endpoint.signature_key_encrypted) == data["signature_key"]
    assert data["signature_key"] not in endpoint.signature_key_encrypted


def test_add_webhook_plain_defaults_to_every_event(owner):
    out = StringIO()
    call_command("add_webhook", str(owner.organization.id), "http://127.0.0.1:9000/hook", stdout=out)
    text = out.getvalue()
    endpoint = WebhookEndpoint.objects.get()
    assert f"Endpoint id: {endpoint.id}" in text
    assert "Signature key: whsec_" in text
    assert endpoint.events == ALL_EVENTS


@pytest.mark.parametrize(
    "args,message",
    [
        (["https://x.example.com", "--events", "Issue.new", "Issue.bogus"], "Issue.bogus"),
        (["ftp://x.example.com"], "http:// or https://"),
    ],
)
def test_add_webhook_bad_input(owner, args, message):
    with pytest.raises(CommandError) as exc:
        call_command("add_webhook", str(owner.organization.id), *args, stdout=StringIO())
    assert message in str(exc.value)
    assert not WebhookEndpoint.objects.exists()


def test_add_webhook_private_url_refused_in_production_mode(owner, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    with pytest.raises(CommandError, match="private or loopback"):
        call_command("add_webhook", str(owner.organization.id), "http://127.0.0.1/hook", stdout=StringIO())


def test_add_webhook_unknown_organization():
    with pytest.raises(CommandError, match="No organization"):
        call_command("add_webhook", "not-a-uuid", "https://x.example.com", stdout=StringIO())
    with pytest.raises(CommandError, match="No organization"):
        call_command(
            "add_webhook", "01a20f31-e9e3-77dd-8ae6-d9fbf3c2a8db", "https://x.example.com", stdout=StringIO()
        )


def test_rotate_webhook_key(owner):
    endpoint, old = webhook_endpoint_create(organization=owner.organization, url="https://x.example.com")
    out = StringIO()
    call_command("rotate_webhook_key", str(endpoint.id), "--json", stdout=out)
    new = json.loads(out.getvalue())["signature_key"]
    endpoint.refresh_from_db()
    assert new != old and decrypt_str(endpoint.signature_key_encrypted) == new


@pytest.fixture
def admin_client_(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-long-enough")
    client.force_login(user)
    return client


def test_admin_mute_action_goes_through_the_service(admin_client_, owner):
    account, _ = owner.linked_account()
    endpoint, _ = webhook_endpoint_create(organization=owner.organization, url="https://x.example.com")
    issue = services.issue_record_failure(account=account, error_description="Rate limited", detail="429")
    response = admin_client_.post(
        "/admin/issues/issue/", {"action": "mute", "_selected_action": [str(issue.id)]}, follow=True
    )
    assert response.status_code == 200
    issue.refresh_from_db()
    assert issue.is_muted and issue.muted_by == "root"
    assert WebhookDelivery.objects.filter(endpoint=endpoint, event="Issue.muted").count() == 1
    # Read-only: no change form posts.
    assert (
        admin_client_.post(f"/admin/issues/issue/{issue.id}/change/", {"status": "RESOLVED"}).status_code
        == 403
    )
    assert Issue.objects.get().status == "ONGOING"


def test_admin_redeliver_action(admin_client_, owner):
    account, _ = owner.linked_account()
    webhook_endpoint_create(organization=owner.organization, url="https://x.example.com")
    services.issue_record_failure(account=account, error_description="Rate limited", detail="429")
    delivery = WebhookDelivery.objects.get(event="Issue.new")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    admin_client_.post(
        "/admin/issues/webhookdelivery/", {"action": "redeliver", "_selected_action": [str(delivery.id)]}
    )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None


def test_admin_pages_render_without_the_signature_key(admin_client_, owner):
    endpoint, key = webhook_endpoint_create(organization=owner.organization, url="https://x.example.com")
    for url in (
        "/admin/issues/webhookendpoint/",
        f"/admin/issues/webhookendpoint/{endpoint.id}/change/",
        "/admin/issues/webhookdelivery/",
        "/admin/issues/issue/",
        "/admin/issues/webhooknotice/",
    ):
        response = admin_client_.get(url)
        assert response.status_code == 200, url
        assert key not in response.content.decode()
        assert endpoint.signature_key_encrypted not in response.content.decode()


def test_admin_adds_an_endpoint_through_the_service(admin_client_, owner, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    response = admin_client_.post(
        "/admin/issues/webhookendpoint/add/",
        {"organization": str(owner.organization.id), "url": "http://10.0.0.1/hook", "enabled": "on"},
    )
    assert response.status_code == 200 and "private or loopback" in response.content.decode()
    response = admin_client_.post(
        "/admin/issues/webhookendpoint/add/",
        {"organization": str(owner.organization.id), "url": "https://hooks.example.com/x", "enabled": "on"},
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ALL_EVENTS and endpoint.signature_key_encrypted
