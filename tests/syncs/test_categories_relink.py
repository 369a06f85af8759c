"""The seed's story once per category beyond HRIS, through the public API: link, sync, the
provider revokes the credentials -> RELINK_NEEDED with an issue and webhooks while the last
good data is still served, then a relink keeps the account's id and token and brings it back."""

import pytest

from accounts.models import LinkedAccount
from issues.models import Issue
from issues.webhooks.endpoints import webhook_endpoint_create
from issues.webhooks.outbox import status_changes_process
from syncs import runs
from tests.linking.helpers import create_link_token, deliveries, exchange

from .categories import sandbox_credentials

pytestmark = pytest.mark.django_db

CASES = [
    ("ats", "sandbox_ats", "candidates", "ats.Candidate"),
    ("crm", "sandbox_crm", "contacts", "crm.Contact"),
]


def _sync(account_id, trigger="schedule"):
    return runs.sync_run_account(account_id=account_id, trigger=trigger)


def _link(owner, category, integration, attempt):
    data = create_link_token(owner, origin_id=f"story-{category}", category=category)
    finished = owner.client(test=True).post(
        "/api/sandbox/v1/public-token",
        {
            "link_token": data["link_token"],
            "integration": integration,
            "credentials": sandbox_credentials(integration, f"story-{category}-{attempt}"),
        },
        format="json",
    )
    assert finished.status_code == 201, finished.content
    return exchange(owner, finished.json()["public_token"], category=category).json()


@pytest.mark.parametrize(("category", "integration", "path", "model_id"), CASES)
def test_revoked_credentials_relink_needed_then_relink_keeps_the_account(
    owner, sandbox_provider, category, integration, path, model_id
):
    webhook_endpoint_create(organization=owner.organization, url="https://hooks.example.com/relink")
    linked = _link(owner, category, integration, "first")
    account_id, token = linked["id"], linked["account_token"]
    assert linked["integration"]["slug"] == integration and linked["integration"]["categories"] == [category]
    api = owner.client(test=True, account_token=token)
    assert _sync(account_id).status == "DONE"
    assert len(api.get(f"/api/{category}/v1/{path}").json()["results"]) == 100

    # The end user's admin revokes the credentials at the provider.
    assert api.post("/api/sandbox/v1/reset-login").status_code == 200
    run = _sync(account_id)
    assert run.status == "FAILED" and run.error_class == "credentials_rejected"
    assert LinkedAccount.objects.get(pk=account_id).status == "RELINK_NEEDED"
    issue = Issue.objects.get(linked_account_id=account_id)
    assert issue.error_description == "Invalid API key" and issue.status == "ONGOING"
    [new_issue] = deliveries(owner.organization, "Issue.new")
    assert new_issue["data"]["error_description"] == "Invalid API key"
    assert new_issue["linked_account"]["category"] == category
    status_changes_process()
    changed = [d["data"] for d in deliveries(owner.organization, "LinkedAccount.status_changed")]
    # The failing sync announces its change itself, in its transaction (the link's change waited
    # for the outbox here: this test's transaction never commits).
    [to_relink] = [c for c in changed if c["to"] == "RELINK_NEEDED"]
    assert to_relink["from"] == "COMPLETE"

    # Paused, and the last good data is still served.
    assert _sync(account_id) is None
    listed = api.get(f"/api/{category}/v1/{path}", {"page_size": 100})
    assert listed.status_code == 200 and len(listed.json()["results"]) == 100
    [row] = api.get(f"/api/{category}/v1/sync-status").json()["results"]
    assert row["model_id"] == model_id and row["status"] == "PAUSED"

    # The end user relinks with new credentials: same account, same token.
    relinked = _link(owner, category, integration, "second")
    assert (relinked["id"], relinked["account_token"]) == (account_id, token)
    assert LinkedAccount.objects.get(pk=account_id).status == "COMPLETE"
    issue.refresh_from_db()
    assert issue.status == "RESOLVED"
    assert _sync(account_id, trigger="forced").status == "DONE"
    [row] = api.get(f"/api/{category}/v1/sync-status").json()["results"]
    assert row["status"] == "DONE"
    assert LinkedAccount.objects.filter(end_user_origin_id=f"story-{category}").count() == 1
