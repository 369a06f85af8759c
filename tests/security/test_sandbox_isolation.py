"""The bundled sandbox provider (issue 14, finding 9).

Defends against: an end user on a production link connecting a sandbox "account" (fake data
billed and synced as production), and one organization's test key revoking or breaking the
sandbox key of another organization's account (the sandbox's revocations and outages were one
space for every organization, keyed by the API key string alone).

Test by test (what each defends against):
- test_a_production_link_does_not_offer_the_sandbox: sandbox accounts created on production links.
- test_a_production_link_token_cannot_name_the_sandbox: a production link token bound to the sandbox.
- test_one_organizations_sandbox_controls_never_touch_anothers: one tenant revoking or breaking another
  tenant's sandbox key.
- test_a_link_checks_the_key_in_its_own_organizations_space: another tenant's revocation refusing a link.
"""

import pytest
from django.test import Client

from accounts.models import AccountType, LinkedAccount
from linking.finish import LinkProblem, link_finish
from syncs import runs
from tests.linking.helpers import create_link_token

pytestmark = pytest.mark.django_db

SHARED_KEY = "sk_sandbox_same_key_in_two_orgs"


def test_a_production_link_does_not_offer_the_sandbox(owner, sandbox_provider):
    production = create_link_token(owner, test=False, origin_id="prod-1")["link_token"]
    test = create_link_token(owner, test=True, origin_id="test-1")["link_token"]
    assert "Sandbox HRIS" not in Client().get(f"/link/{production}").content.decode()
    assert "Sandbox HRIS" in Client().get(f"/link/{test}").content.decode()
    # Typing the sandbox form's address by hand does not help.
    page = Client().get(f"/link/{production}/sandbox").content.decode()
    assert "not offered" in page and 'name="credential-api_key"' not in page
    submitted = Client().post(f"/link/{production}/sandbox", {"credential-api_key": "sk_sandbox_x"})
    assert "Connected" not in submitted.content.decode()
    with pytest.raises(LinkProblem) as problem:
        link_finish(link_token=production, integration="sandbox", credentials={"api_key": "sk_sandbox_x"})
    assert problem.value.code == "integration"
    assert not LinkedAccount.objects.filter(account_type=AccountType.PRODUCTION).exists()
    assert sandbox_provider.state.request_count == 0  # not even a credential check


def test_a_production_link_token_cannot_name_the_sandbox(owner):
    response = owner.client().post(
        "/api/hris/v1/link-token",
        {
            "end_user_email_address": "a@example.com",
            "end_user_organization_name": "A",
            "end_user_origin_id": "a",
            "categories": ["hris"],
            "integration": "sandbox",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "test" in str(response.json()["integration"]).lower()


def test_one_organizations_sandbox_controls_never_touch_anothers(owner, outsider, sandbox_provider):
    mine, _ = owner.linked_account(
        origin_id="o-1", account_type=AccountType.TEST, credentials={"api_key": SHARED_KEY}
    )
    theirs, their_token = outsider.linked_account(
        origin_id="o-1", account_type=AccountType.TEST, credentials={"api_key": SHARED_KEY}
    )
    outsider_api = outsider.client(test=True, account_token=their_token)

    # The outsider revokes "its" key: its own account fails, the owner's (same key) still syncs.
    assert outsider_api.post("/api/sandbox/v1/reset-login").status_code == 200
    assert runs.sync_run_account(account_id=str(theirs.pk), trigger="manual").status == "FAILED"
    assert runs.sync_run_account(account_id=str(mine.pk), trigger="manual").status == "DONE"
    assert LinkedAccount.objects.get(pk=mine.pk).status == "COMPLETE"

    # An outage the outsider sets on the key is the outsider's alone too.
    other, other_token = outsider.linked_account(
        origin_id="o-2", account_type=AccountType.TEST, credentials={"api_key": "sk_sandbox_o2"}
    )
    mine_too, _ = owner.linked_account(
        origin_id="o-2", account_type=AccountType.TEST, credentials={"api_key": "sk_sandbox_o2"}
    )
    outage = outsider.client(test=True, account_token=other_token).post(
        "/api/sandbox/v1/provider-outage", {"mode": "http_500"}, format="json"
    )
    assert outage.status_code == 200
    assert runs.sync_run_account(account_id=str(other.pk), trigger="manual").status == "FAILED"
    assert runs.sync_run_account(account_id=str(mine_too.pk), trigger="manual").status == "DONE"


def test_a_link_checks_the_key_in_its_own_organizations_space(owner, outsider, sandbox_provider):
    theirs, their_token = outsider.linked_account(
        origin_id="x-1", account_type=AccountType.TEST, credentials={"api_key": SHARED_KEY}
    )
    assert (
        outsider.client(test=True, account_token=their_token).post("/api/sandbox/v1/reset-login").status_code
        == 200
    )
    # The owner's end user links with the same key string: it works in the owner's space.
    raw = create_link_token(owner, test=True, origin_id="x-1")["link_token"]
    result = link_finish(link_token=raw, integration="sandbox", credentials={"api_key": SHARED_KEY})
    assert result.ok, result.message
