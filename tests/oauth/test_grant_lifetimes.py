"""Grant lifetimes: a stated grant end is recorded and warned about once per grant (event,
relink e-mail with a magic link, dashboard data); grants that die unused are refreshed before
they lapse, IDLE accounts included."""

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import LinkedAccount
from accounts.services import linked_account_mark_idle
from issues.models import WebhookDelivery
from issues.webhooks.endpoints import webhook_endpoint_create
from linking.models import RelinkEmail
from linking.oauth_expiry import credentials_expiring_sweep
from syncs.models import OAuthToken
from syncs.oauth_grants import oauth_keep_alive_due
from syncs.runs import sync_run_account
from syncs.tasks import oauth_keep_alive_account

from .conftest import oauth_finish, oauth_link

pytestmark = pytest.mark.django_db


def _expiring_events(organization):
    return WebhookDelivery.objects.filter(
        organization=organization, event="LinkedAccount.credentials_expiring"
    )


def test_grant_end_warned_once_per_grant(owner, sandbox_provider, django_capture_on_commit_callbacks):
    webhook_endpoint_create(organization=owner.organization, url="https://hooks.example.com/r")
    account, token = oauth_link(owner)
    api = owner.client(test=True, account_token=token)
    assert api.post("/api/sandbox/v1/grant-expiry", {"days": 5}, format="json").status_code == 200
    assert api.post("/api/sandbox/v1/expire-access-token").status_code == 200
    # The next sync refreshes; the token endpoint now states the grant's end.
    assert sync_run_account(account_id=str(account.pk), trigger="forced").status == "DONE"
    row = OAuthToken.objects.get(pk=account.pk)
    assert row.grant_expires_at is not None
    assert 4.9 < (row.grant_expires_at - timezone.now()).total_seconds() / 86400 < 5.1

    assert credentials_expiring_sweep() == 1
    events = list(_expiring_events(owner.organization))
    assert len(events) == 1
    import json

    body = json.loads(events[0].body)
    assert body["data"]["expires_at"] and body["data"]["reason"]
    assert (
        len(mail.outbox) == 1 and "/link/" in mail.outbox[0].body and "stops working" in mail.outbox[0].body
    )
    assert RelinkEmail.objects.get().kind == "EXPIRING"

    # Later refreshes and sweeps, days later: still one warning for this grant.
    with time_machine.travel(timezone.now() + timezone.timedelta(days=2), tick=True):
        assert api.post("/api/sandbox/v1/expire-access-token").status_code == 200
        assert sync_run_account(account_id=str(account.pk), trigger="forced").status == "DONE"
        assert credentials_expiring_sweep() == 0
    assert _expiring_events(owner.organization).count() == 1 and len(mail.outbox) == 1

    # A relink by consent is a new grant: it may be warned about again when it nears its end.
    from tests.linking.helpers import create_link_token

    relink = create_link_token(owner, origin_id="oauth-user-1", integration="sandbox_oauth")
    assert oauth_finish(owner, relink["link_token"]).status_code == 201
    assert LinkedAccount.objects.get(pk=account.pk).status == "COMPLETE"
    assert api.post("/api/sandbox/v1/grant-expiry", {"days": 3}, format="json").status_code == 200
    assert api.post("/api/sandbox/v1/expire-access-token").status_code == 200
    assert sync_run_account(account_id=str(account.pk), trigger="forced").status == "DONE"
    assert credentials_expiring_sweep() == 1
    assert _expiring_events(owner.organization).count() == 2


def test_grant_far_from_its_end_is_not_warned(owner, sandbox_provider):
    account, token = oauth_link(owner)
    api = owner.client(test=True, account_token=token)
    api.post("/api/sandbox/v1/grant-expiry", {"days": 30}, format="json")
    api.post("/api/sandbox/v1/expire-access-token")
    assert sync_run_account(account_id=str(account.pk), trigger="forced").status == "DONE"
    assert OAuthToken.objects.get(pk=account.pk).grant_expires_at is not None
    assert credentials_expiring_sweep() == 0 and not mail.outbox


def test_keep_alive_refreshes_idle_grants_before_they_lapse(owner, sandbox_provider):
    account, _ = oauth_link(owner, origin_id="busy")
    idle, _ = oauth_link(owner, origin_id="idle")
    linked_account_mark_idle(account=LinkedAccount.objects.get(pk=idle.pk), reason="test")
    oauth = sandbox_provider.state.oauth
    assert oauth_keep_alive_due() == []  # just linked
    # 31 days on (the sandbox's grants die after 60 unused days): both are due, IDLE included.
    with time_machine.travel(timezone.now() + timezone.timedelta(days=31), tick=True):
        due = set(oauth_keep_alive_due())
        assert due == {str(account.pk), str(idle.pk)}
        for account_id in due:
            assert oauth_keep_alive_account(account_id) is True
        assert oauth.refresh_count == 2
        assert oauth_keep_alive_due() == []  # refreshed: not due again for another 30 days
    assert LinkedAccount.objects.get(pk=idle.pk).status == "IDLE"


def test_dashboard_badges_a_grant_that_ends_soon(owner, outsider, sandbox_provider):
    from tests.dashboard.conftest import operator_client

    account, token = oauth_link(owner, origin_id="ending")
    other, _ = oauth_link(owner, origin_id="fine")
    api = owner.client(test=True, account_token=token)
    api.post("/api/sandbox/v1/grant-expiry", {"days": 4}, format="json")
    api.post("/api/sandbox/v1/expire-access-token")
    assert sync_run_account(account_id=str(account.pk), trigger="forced").status == "DONE"
    ends = OAuthToken.objects.get(pk=account.pk).grant_expires_at.strftime("%Y-%m-%d")
    operator = operator_client(username="olga", organizations=[owner.organization])
    # The list's Sync cells and the account page's sync panel come from the syncs app.
    badges = operator.get(f"/accounts/sync-badges?account={account.pk}&account={other.pk}").content.decode()
    assert badges.count("Access expires") == 1 and f"Access expires {ends}" in badges
    assert f"Access expires {ends}" in operator.get(f"/accounts/{account.pk}/sync-runs").content.decode()
    assert "Access expires" not in operator.get(f"/accounts/{other.pk}/sync-runs").content.decode()
    # Another organization's operator asking for these ids sees no badge.
    stranger = operator_client(username="sam", organizations=[outsider.organization])
    assert (
        "Access expires" not in stranger.get(f"/accounts/sync-badges?account={account.pk}").content.decode()
    )
