"""Dashboard actions: each calls its service, and secrets are shown once and never again."""

import json

import pytest
from django.utils import timezone

from accounts.models import LinkedAccount, LinkedAccountStatusChange
from accounts.selectors import api_key_authenticate
from issues.models import DeliveryStatus, Issue, WebhookDelivery, WebhookEndpoint
from issues.webhooks.endpoints import webhook_endpoint_create
from issues.webhooks.events import webhook_event_emit
from linking.models import RelinkEmail
from syncs.models import SyncRun, SyncRunStatus, SyncTrigger

from .conftest import operator_client, running_sync_run
from .seed import seed


def test_api_key_is_shown_once_and_can_be_revoked(owner, operator):
    response = operator.post("/settings/api-keys", {"environment": "TEST", "name": "ci"})
    assert response.status_code == 200
    html = response.content.decode()
    raw = html.split('id="new-key-value">')[1].split("<")[0]
    assert raw.startswith("rl_test_")
    key = api_key_authenticate(raw_key=raw)
    assert key is not None and key.organization_id == owner.organization.id and key.name == "ci"
    later = operator.get("/settings").content.decode()
    assert raw not in later and key.prefix in later
    # The organization's first keys (from the fixture) never appear either.
    assert owner.production_key not in later and owner.test_key not in later
    assert operator.post(f"/settings/api-keys/{key.id}/revoke").status_code == 302
    assert api_key_authenticate(raw_key=raw) is None
    assert "Revoked" in operator.get("/settings").content.decode()


def test_the_settings_form_beside_a_new_key_shows_the_saved_embedding_origins(owner, operator):
    owner.organization.embedding_origins = ["https://app.example.com"]
    owner.organization.save(update_fields=["embedding_origins"])
    response = operator.post("/settings/api-keys", {"environment": "TEST", "name": "ci"})
    # The same form as GET /settings: saving it from this page keeps the origins.
    assert response.status_code == 200
    assert response.context["form"].initial == operator.get("/settings").context["form"].initial
    assert response.context["form"].initial["embedding_origins"] == "https://app.example.com"


def test_settings_are_saved_and_validated(owner, operator):
    response = operator.post(
        "/settings",
        {
            "default_sync_frequency": "24h",
            "relink_support_text": "Call 555-0100",
            "relink_reminder_days": "3",
        },
    )
    assert response.status_code == 302
    owner.organization.refresh_from_db()
    assert owner.organization.default_sync_frequency == "24h"
    assert owner.organization.relink_support_text == "Call 555-0100"
    assert owner.organization.relink_reminder_days == 3
    bad = operator.post("/settings", {"default_sync_frequency": "7m", "relink_reminder_days": "-1"})
    assert bad.status_code == 200 and b"Select a valid choice" in bad.content
    owner.organization.refresh_from_db()
    assert owner.organization.default_sync_frequency == "24h"


def test_account_page_never_shows_token_or_credentials(owner, operator):
    account, token = owner.linked_account(
        origin_id="secretive", credentials={"api_key": "sk_sandbox_TOPSECRET"}
    )
    html = "".join(
        operator.get(f"/accounts/{account.id}{panel}").content.decode()
        for panel in ("", "/sync-runs", "/issues", "/relink")
    )
    assert token not in html
    assert "sk_sandbox_TOPSECRET" not in html
    assert account.account_token_hash not in html


def test_force_resync_queues_a_sync(owner, operator, django_capture_on_commit_callbacks, monkeypatch):
    account, _ = owner.linked_account(origin_id="resync-me")
    queued = []
    from syncs import tasks

    monkeypatch.setattr(tasks.sync_account, "apply_async", lambda args, kwargs: queued.append((args, kwargs)))
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(f"/accounts/{account.id}/resync")
    assert response.status_code == 302
    assert queued and queued[0][0] == [str(account.id)]
    assert queued[0][1]["trigger"] == SyncTrigger.FORCED


def test_relink_email_and_magic_link(owner, operator, mailoutbox):
    account, _ = owner.linked_account(origin_id="relinker")
    response = operator.post(f"/accounts/{account.id}/relink-email")
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [account.end_user_email_address]
    assert RelinkEmail.objects.filter(linked_account=account).count() == 1
    panel = operator.get(f"/accounts/{account.id}/relink", HTTP_HX_REQUEST="true").content.decode()
    assert f"to {account.end_user_email_address}" in panel
    # Without HTMX (the Issues tab's form, no JavaScript): the relink page shows the link.
    link = operator.post(f"/accounts/{account.id}/magic-link").content.decode()
    url = link.split('id="magic-link-value">')[1].split("<")[0]
    assert "/link/" in url and "<html" in link
    # From the account page, with HTMX: only the box, swapped into the page.
    fragment = operator.post(f"/accounts/{account.id}/magic-link", HTTP_HX_REQUEST="true").content.decode()
    second = fragment.split('id="magic-link-value">')[1].split("<")[0]
    assert "/link/" in second and second != url and "<html" not in fragment
    for page in ("", "/relink"):
        html = operator.get(f"/accounts/{account.id}{page}").content.decode()
        assert url not in html and second not in html


def test_sync_frequency_change(owner, operator):
    account, _ = owner.linked_account(origin_id="freq")
    assert (
        operator.post(f"/accounts/{account.id}/sync-frequency", {"sync_frequency": "24h"}).status_code == 302
    )
    assert LinkedAccount.objects.get(pk=account.pk).sync_frequency == "24h"
    operator.post(f"/accounts/{account.id}/sync-frequency", {"sync_frequency": "bogus"})
    assert LinkedAccount.objects.get(pk=account.pk).sync_frequency == "24h"


def test_delete_needs_confirmation(owner, operator):
    account, _ = owner.linked_account(origin_id="doomed")
    assert b"Type the origin id" in operator.get(f"/accounts/{account.id}/delete").content
    assert operator.post(f"/accounts/{account.id}/delete", {"confirm_origin_id": "wrong"}).status_code == 400
    assert LinkedAccount.objects.filter(pk=account.pk).exists()
    response = operator.post(f"/accounts/{account.id}/delete", {"confirm_origin_id": "doomed"})
    assert response.status_code == 302 and response["Location"] == "/accounts"
    assert not LinkedAccount.objects.filter(pk=account.pk).exists()
    assert LinkedAccountStatusChange.objects.filter(
        linked_account_uuid=account.id, to_status="DELETED"
    ).exists()


def test_sync_badge_polls_while_running_and_stops_after(owner, outsider, operator):
    account, run = running_sync_run(owner, origin_id="busy", requests_total=3, records_fetched=250)
    listing = operator.get("/accounts").content.decode()
    badges_url = f"/accounts/sync-badges?account={account.id}"
    assert f'hx-get="{badges_url}" hx-trigger="load"' in listing
    # The syncs app fills the row's Sync cell out of band; the running one polls.
    badges = operator.get(badges_url, HTTP_HX_REQUEST="true").content.decode()
    assert f'id="sync-{account.id}" class="sync-badge" hx-swap-oob="true"' in badges
    assert f'hx-get="/accounts/{account.id}/sync-badge"' in badges
    assert "3 pages · 250 records so far" in badges
    # Another organization's operator learns nothing of it.
    outsider = operator_client(username="nosy", organizations=[outsider.organization])
    assert "250 records" not in outsider.get(badges_url, HTTP_HX_REQUEST="true").content.decode()
    badge = operator.get(f"/accounts/{account.id}/sync-badge").content.decode()
    assert 'hx-trigger="every 2s"' in badge and "250 records" in badge
    assert "<html" not in badge  # a fragment
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRunStatus.DONE, finished_at=timezone.now())
    badge = operator.get(f"/accounts/{account.id}/sync-badge").content.decode()
    assert "hx-trigger" not in badge and "Sync finished" in badge


def test_mute_and_unmute(owner, operator):
    seed(owner, 2)
    issue = Issue.objects.filter(organization=owner.organization).first()
    assert (
        operator.post(f"/issues/{issue.id}/mute", {"mute": "1", "next": "/issues"})["Location"] == "/issues"
    )
    issue.refresh_from_db()
    assert issue.is_muted
    assert f'data-issue="{issue.id}"' not in operator.get("/issues", {"muted": "hide"}).content.decode()
    assert f'data-issue="{issue.id}"' in operator.get("/issues", {"muted": "only"}).content.decode()
    operator.post(f"/issues/{issue.id}/mute", {"mute": "0"})
    issue.refresh_from_db()
    assert not issue.is_muted
    # An open redirect is not followed.
    for evil in ("//evil.example", "/\\evil.example", "https://evil.example/"):
        response = operator.post(f"/issues/{issue.id}/mute", {"mute": "0", "next": evil})
        assert response["Location"] == f"/issues/{issue.id}", evil


def test_issue_page_shows_the_relink_snippet_for_credential_issues_only(owner, operator):
    seed(owner, 2)
    credential = Issue.objects.get(organization=owner.organization, error_description="Invalid API key")
    other = Issue.objects.get(organization=owner.organization, error_description="Rate limited")
    html = operator.get(f"/issues/{credential.id}").content.decode()
    assert 'id="relink"' in html and "MergePythonClient" in html and "curl -X POST" in html
    assert f'action="/accounts/{credential.linked_account_id}/magic-link"' in html
    assert 'id="relink"' not in operator.get(f"/issues/{other.id}").content.decode()


def test_webhook_endpoint_lifecycle(owner, operator, django_capture_on_commit_callbacks):
    response = operator.post(
        "/webhooks",
        {"url": "http://127.0.0.1:9/hook", "description": "ours", "events": ["Issue.new"], "enabled": "on"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    key = html.split('id="signature-key-value">')[1].split("<")[0]
    assert key.startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get(organization=owner.organization)
    assert endpoint.events == ["Issue.new"]
    assert key not in operator.get("/webhooks").content.decode()
    assert key not in operator.get(f"/webhooks/{endpoint.id}").content.decode()
    # Edit events.
    operator.post(
        f"/webhooks/{endpoint.id}",
        {"url": endpoint.url, "events": ["Issue.new", "Issue.resolved"], "enabled": "on"},
    )
    endpoint.refresh_from_db()
    assert endpoint.events == ["Issue.new", "Issue.resolved"]
    # Disable / enable.
    operator.post(f"/webhooks/{endpoint.id}/enabled", {"enabled": "0"})
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert (
        b"enable it to send a test event"
        in operator.post(f"/webhooks/{endpoint.id}/test", follow=True).content
    )
    operator.post(f"/webhooks/{endpoint.id}/enabled", {"enabled": "1"})
    endpoint.refresh_from_db()
    assert endpoint.enabled
    # Rotate: the new key is shown once and differs.
    rotated = operator.post(f"/webhooks/{endpoint.id}/rotate-key").content.decode()
    new_key = rotated.split('id="signature-key-value">')[1].split("<")[0]
    assert new_key.startswith("whsec_") and new_key != key
    assert new_key not in operator.get(f"/webhooks/{endpoint.id}").content.decode()
    # Test event: one delivery for this endpoint.
    with django_capture_on_commit_callbacks(execute=False):
        operator.post(f"/webhooks/{endpoint.id}/test")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert json.loads(delivery.body)["data"]["test"] is True
    # Redeliver a failed delivery.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    with django_capture_on_commit_callbacks(execute=False):
        operator.post(f"/webhooks/deliveries/{delivery.id}/redeliver")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING


def test_bad_webhook_url_is_a_clear_error(owner, operator):
    response = operator.post("/webhooks", {"url": "ftp://example.com/x"})
    assert response.status_code == 400
    assert b"must start with http:// or https://" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_delivery_page_redacts_the_account_token(owner, operator):
    endpoint, _ = webhook_endpoint_create(organization=owner.organization, url="http://127.0.0.1:9/h")
    (delivery,) = webhook_event_emit(
        organization=owner.organization,
        event="LinkedAccount.linked",
        account_details={"id": "00000000-0000-0000-0000-000000000001"},
        data={"is_relink": False, "account_token": "tok_VERYSECRET"},
    )
    html = operator.get(f"/webhooks/deliveries/{delivery.id}").content.decode()
    assert "tok_VERYSECRET" not in html
    assert "[redacted]" in html


def test_disabled_endpoint_notice_is_shown_and_dismissed(owner, operator):
    from issues.models import WebhookNotice

    endpoint, _ = webhook_endpoint_create(organization=owner.organization, url="http://127.0.0.1:9/h")
    notice = WebhookNotice.objects.create(
        organization=owner.organization,
        endpoint=endpoint,
        kind=WebhookNotice.Kind.ENDPOINT_DISABLED,
        message="Disabled after 24 hours of failures",
    )
    assert b"Disabled after 24 hours of failures" in operator.get("/webhooks").content
    operator.post(f"/webhooks/notices/{notice.pk}/acknowledge")
    assert b"Disabled after 24 hours of failures" not in operator.get("/webhooks").content


@pytest.mark.parametrize(
    "url",
    [
        "/issues?status=NOPE",
        "/issues?cursor=zz",
        "/webhooks?status=NOPE",
        "/accounts/sync-badges?account=nope",
    ],
)
def test_bad_list_parameters_are_400(operator, url):
    assert operator.get(url).status_code == 400


def test_issue_filters(owner, operator):
    seed(owner, 4)
    html = operator.get("/issues", {"error_description": "Invalid API key"}).content.decode()
    assert html.count('data-issue="') == 1
    assert operator.get("/issues", {"integration": "sandbox"}).content.decode().count('data-issue="') == 2
    assert operator.get("/issues", {"integration": "nope"}).content.decode().count('data-issue="') == 0
    assert operator.get("/issues", {"environment": "test"}).content.decode().count('data-issue="') == 0
