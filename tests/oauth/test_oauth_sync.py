"""An OAuth account end to end against the sandbox OAuth server on a socket: linked by the real
code exchange (PKCE), synced with its access token, refreshed ahead of expiry with rotating
refresh tokens, and broken in each way a real grant breaks."""

import pytest
import time_machine
from django.utils import timezone

from accounts.models import LinkedAccount
from issues.models import Issue
from syncs.models import Employee, OAuthToken, SyncRun
from syncs.runs import sync_run_account

from .conftest import control, oauth_link

pytestmark = pytest.mark.django_db


def _sync(account):
    return sync_run_account(account_id=str(account.pk), trigger="forced")


def test_linked_by_consent_syncs_and_shows_auth_type(owner, sandbox_provider):
    account, token = oauth_link(owner)
    assert account.integration == "sandbox_oauth" and account.status == "COMPLETE"
    run = _sync(account)
    assert run.status == "DONE", run.error_message
    assert Employee.objects.filter(linked_account=account).count() == 200
    api = owner.client(test=True, account_token=token)
    assert api.get("/api/hris/v1/employees").status_code == 200
    listed = owner.client(test=True).get("/api/hris/v1/linked-accounts").json()["results"]
    assert listed[0]["integration"]["auth_type"] == "OAUTH2"
    assert sandbox_provider.state.oauth.exchange_count == 1


def test_expired_access_token_is_refreshed_once_and_rotates(owner, sandbox_provider):
    account, token = oauth_link(owner)
    oauth = sandbox_provider.state.oauth
    # An hour later the access token has expired: the sync refreshes first, then reads.
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=1, minutes=1), tick=True):
        assert _sync(account).status == "DONE"
        assert _sync(account).status == "DONE"  # the refreshed token is used as is
    assert oauth.refresh_count == 1 and oauth.reuse_count == 0
    row = OAuthToken.objects.get(pk=account.pk)
    assert row.generation == 1 and row.refreshed_at is not None


def test_expire_access_token_helper_makes_the_next_call_refresh(owner, sandbox_provider):
    account, token = oauth_link(owner)
    api = owner.client(test=True, account_token=token)
    assert api.post("/api/sandbox/v1/expire-access-token").status_code == 200
    assert _sync(account).status == "DONE"  # 401 -> refresh -> retry
    assert sandbox_provider.state.oauth.refresh_count == 1


def test_revoked_grant_is_invalid_api_key_and_relink_needed(owner, sandbox_provider):
    account, token = oauth_link(owner)
    api = owner.client(test=True, account_token=token)
    assert api.post("/api/sandbox/v1/reset-login").status_code == 200
    run = _sync(account)
    assert run.status == "FAILED"
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
    issue = Issue.objects.get(linked_account=account, status="ONGOING")
    assert issue.error_description == "Invalid API key"
    details = " ".join(issue.error_details)
    assert "invalid_grant" in details and "revoked" in details
    row = OAuthToken.objects.get(pk=account.pk)
    from syncs.oauth_tokens import _tokens

    for secret in _tokens(row).secrets():
        assert secret not in details


def test_removed_permission_is_missing_permissions(owner, sandbox_provider):
    account, token = oauth_link(owner)
    api = owner.client(test=True, account_token=token)
    response = api.post("/api/sandbox/v1/remove-permission", {"scope": "employees:read"}, format="json")
    assert response.status_code == 200
    assert _sync(account).status == "FAILED"
    issue = Issue.objects.get(linked_account=account, status="ONGOING")
    assert issue.error_description == "Missing permissions"
    assert "insufficient_scope" in " ".join(issue.error_details)
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"


def test_helpers_refuse_production_keys(owner, sandbox_provider):
    account, token = oauth_link(owner)
    api = owner.client(test=False, account_token=token)
    for path in ("reset-login", "expire-access-token", "remove-permission", "grant-expiry"):
        assert api.post(f"/api/sandbox/v1/{path}", {}, format="json").status_code in (401, 403)


def test_spent_refresh_token_is_counted_by_the_sandbox(owner, sandbox_provider):
    """The server side of the race test: reusing a rotated refresh token is refused and counted."""
    account, _ = oauth_link(owner)
    from accounts.selectors import linked_account_credentials
    from syncs.integrations import get
    from syncs.integrations.oauth import TokenSet

    integration = get("sandbox_oauth")
    tokens = TokenSet.from_credentials(linked_account_credentials(account=account))
    integration.refresh(tokens=tokens)
    with pytest.raises(Exception) as caught:
        integration.refresh(tokens=tokens)
    assert "invalid_grant" in str(caught.value)
    assert control("stats")["reuse_count"] == 1
    assert SyncRun.objects.count() == 0


def test_grants_survive_a_provider_restart(owner, sandbox_provider, settings):
    """`make run` restarts the sandbox provider (and the demo seed links on a private one): a
    grant it signed is still honoured by a new process."""
    from syncs.sandbox_provider import serve_in_thread

    account, _ = oauth_link(owner)
    restarted = serve_in_thread(control_token=settings.SANDBOX_CONTROL_TOKEN)
    settings.SANDBOX_PROVIDER_URL = restarted.url
    try:
        assert _sync(account).status == "DONE"
        with time_machine.travel(timezone.now() + timezone.timedelta(hours=2), tick=True):
            assert _sync(account).status == "DONE"  # refreshed at the new process
        assert restarted.state.oauth.refresh_count == 1
    finally:
        restarted.stop()


def test_sandbox_crm_is_oauth_with_contacts_read(owner, sandbox_provider):
    """The sandbox CRM authorizes through the same server, as client sandbox_crm with scope
    contacts:read: removing that permission is Missing permissions."""
    from tests.linking.helpers import create_link_token, exchange

    from .conftest import oauth_finish

    link = create_link_token(owner, origin_id="crm-1", category="crm", integration="sandbox_crm")
    finished = oauth_finish(owner, link["link_token"], integration="sandbox_crm")
    assert finished.status_code == 201, finished.content
    body = exchange(owner, finished.json()["public_token"], category="crm").json()
    assert body["integration"]["auth_type"] == "OAUTH2"
    account = LinkedAccount.objects.get(pk=body["id"])
    assert _sync(account).status == "DONE"
    api = owner.client(test=True, account_token=body["account_token"])
    api.post("/api/sandbox/v1/remove-permission", {"scope": "contacts:read"}, format="json")
    assert _sync(account).status == "FAILED"
    assert Issue.objects.get(linked_account=account).error_description == "Missing permissions"
