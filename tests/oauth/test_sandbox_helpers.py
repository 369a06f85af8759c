"""The sandbox provider's helpers on OAuth accounts (`sandbox_oauth`, `sandbox_crm`), through the
API over real HTTP to the sandbox provider on a socket: provider-outage tells the same story as
for an API-key account (every request 500 -> Third-party offline, Relink Needed by the rule,
the last good data still served; outage over -> a resync brings it back), and the outage is the
grant's, so a refreshed access token is in it too while another account's grant is not."""

import pytest

from accounts.models import LinkedAccount, LinkedAccountStatusChange
from issues.models import Issue
from syncs.runs import sync_run_account

from .conftest import oauth_link

pytestmark = pytest.mark.django_db

DATA = {"sandbox_oauth": "/api/hris/v1/employees", "sandbox_crm": "/api/crm/v1/contacts"}


def _sync(account, trigger="schedule"):
    return sync_run_account(account_id=str(account.pk), trigger=trigger)


def _status(account) -> str:
    return LinkedAccount.objects.get(pk=account.pk).status


@pytest.mark.parametrize("integration", ["sandbox_oauth", "sandbox_crm"])
def test_provider_outage_of_an_oauth_account(owner, sandbox_provider, integration):
    account, token = oauth_link(owner, origin_id=f"outage-{integration}", integration=integration)
    other, _ = oauth_link(owner, origin_id=f"healthy-{integration}", integration=integration)
    api = owner.client(test=True, account_token=token)
    assert _sync(account).status == "DONE"

    bad = api.post("/api/sandbox/v1/provider-outage", {"mode": "meteor"}, format="json")
    assert bad.status_code == 400 and "mode" in bad.json()
    outage = api.post("/api/sandbox/v1/provider-outage", {"mode": "http_500"}, format="json")
    assert outage.status_code == 200 and outage.json() == {"mode": "http_500"}

    failed = _sync(account)
    assert failed.status == "FAILED" and failed.error_class == "provider_offline"
    issue = Issue.objects.get(linked_account=account, status="ONGOING")
    assert issue.error_description == "Third-party offline"
    # Every request of the sync failed: Relink Needed by the rule, as for an API-key account.
    assert _status(account) == "RELINK_NEEDED"
    change = LinkedAccountStatusChange.objects.filter(linked_account_uuid=account.pk).latest("id")
    assert change.to_status == "RELINK_NEEDED" and "Every request of the latest sync failed" in change.reason
    assert len(api.get(DATA[integration]).json()["results"]) == 100  # the last good data, served
    # The other account's grant (same organization, same integration) is not in the outage.
    assert _sync(other).status == "DONE"

    # The outage is the grant's: after a refresh the new access token gets 500s too.
    assert api.post("/api/sandbox/v1/expire-access-token").status_code == 200
    assert _sync(account, trigger="forced").error_class == "provider_offline"
    assert sandbox_provider.state.oauth.refresh_count == 1

    assert api.post("/api/sandbox/v1/provider-outage", {"mode": "none"}, format="json").json() == {
        "mode": "none"
    }
    assert _sync(account, trigger="forced").status == "DONE"
    assert _status(account) == "COMPLETE"
    issue.refresh_from_db()
    assert issue.status == "RESOLVED"


def test_reset_login_of_a_sandbox_crm_account_revokes_its_grant(owner, sandbox_provider):
    account, token = oauth_link(owner, origin_id="crm-reset", integration="sandbox_crm")
    assert _sync(account).status == "DONE"
    api = owner.client(test=True, account_token=token)
    assert api.post("/api/sandbox/v1/reset-login").status_code == 200
    assert api.post("/api/sandbox/v1/expire-access-token").status_code == 200  # the next call refreshes
    assert _sync(account).error_class == "credentials_rejected"
    assert Issue.objects.get(linked_account=account).error_description == "Invalid API key"
    assert _status(account) == "RELINK_NEEDED"


def test_the_oauth_helpers_refuse_an_api_key_account_and_outage_of_one_still_works(owner, sandbox_provider):
    """The helpers of the OAuth server say so for an API-key account; provider-outage and
    reset-login of an API-key account keep acting on its key."""
    from accounts.models import AccountType

    account, token = owner.linked_account(origin_id="key-account", account_type=AccountType.TEST)
    api = owner.client(test=True, account_token=token)
    refused = api.post("/api/sandbox/v1/expire-access-token")
    assert refused.status_code == 400 and "does not use" in refused.json()["detail"]
    assert api.post("/api/sandbox/v1/provider-outage", {"mode": "http_500"}, format="json").status_code == 200
    assert _sync(account).error_class == "provider_offline"
