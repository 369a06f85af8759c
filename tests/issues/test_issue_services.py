"""The Issue lifecycle: open, repeat, resolve, reopen, mute; and the events each step writes."""

import json

import pytest
from django.db import IntegrityError, transaction

from issues import services
from issues.models import (
    CREDENTIAL_ERRORS,
    ErrorDescription,
    Issue,
    IssueStatus,
    WebhookDelivery,
)
from issues.webhooks.endpoints import webhook_endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(owner):
    endpoint, _key = webhook_endpoint_create(organization=owner.organization, url="http://127.0.0.1:9/hook")
    return endpoint


def events_for(endpoint) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id").values_list("event", flat=True)
    )


def test_error_descriptions_are_the_contract_strings():
    assert [e.value for e in ErrorDescription] == [
        "Invalid API key",
        "Missing permissions",
        "Rate limited",
        "Third-party offline",
    ]
    assert set(CREDENTIAL_ERRORS) == {"Invalid API key", "Missing permissions"}


def test_first_failure_opens_an_issue_and_fires_issue_new(owner, endpoint):
    account, _ = owner.linked_account()
    issue = services.issue_record_failure(
        account=account, error_description=ErrorDescription.INVALID_API_KEY, detail="401 from provider"
    )
    assert issue.status == IssueStatus.ONGOING
    assert issue.first_incident_time == issue.last_incident_time
    assert issue.error_details == ["401 from provider"]
    assert issue.account_type == account.account_type
    assert events_for(endpoint) == ["Issue.new"]
    body = json.loads(WebhookDelivery.objects.get(endpoint=endpoint).body)
    assert body["hook"]["event"] == "Issue.new"
    assert body["hook"]["target"] == endpoint.url
    assert body["linked_account"]["id"] == str(account.id)
    assert body["data"]["id"] == str(issue.id)
    assert body["data"]["error_description"] == "Invalid API key"
    assert body["data"]["end_user"]["end_user_origin_id"] == account.end_user_origin_id


def test_repeat_updates_the_ongoing_issue_with_bounded_details(owner, endpoint, settings):
    settings.ISSUE_ERROR_DETAILS_MAX = 3
    account, _ = owner.linked_account()
    first = services.issue_record_failure(
        account=account, error_description="Third-party offline", detail="detail 0"
    )
    for i in range(1, 6):
        again = services.issue_record_failure(
            account=account, error_description="Third-party offline", detail=f"detail {i}" + "x" * 1000
        )
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.occurrences == 6
    assert len(again.error_details) == 3
    assert again.error_details[-1].startswith("detail 5")
    assert all(len(d) <= 500 for d in again.error_details)
    assert again.last_incident_time > again.first_incident_time
    assert Issue.objects.filter(linked_account=account).count() == 1
    # Only the opening fires an event; repeats are quiet.
    assert events_for(endpoint) == ["Issue.new"]


def test_different_descriptions_are_different_issues(owner):
    account, _ = owner.linked_account()
    a = services.issue_record_failure(account=account, error_description="Rate limited", detail="429")
    b = services.issue_record_failure(account=account, error_description="Invalid API key", detail="401")
    assert a.pk != b.pk


def test_resolve_then_new_failure_reopens_the_same_issue(owner, endpoint):
    account, _ = owner.linked_account()
    issue = services.issue_record_failure(account=account, error_description="Invalid API key", detail="401")
    assert services.issues_resolve_for_account(account=account, reason="Relinked") == 1
    issue.refresh_from_db()
    assert issue.status == IssueStatus.RESOLVED
    assert issue.resolved_at is not None
    reopened = services.issue_record_failure(
        account=account, error_description="Invalid API key", detail="401 again"
    )
    assert reopened.pk == issue.pk
    assert reopened.status == IssueStatus.ONGOING
    assert reopened.resolved_at is None
    assert reopened.error_details == ["401", "401 again"]
    assert events_for(endpoint) == ["Issue.new", "Issue.resolved", "Issue.reopened"]
    resolved_body = json.loads(WebhookDelivery.objects.filter(event="Issue.resolved").get().body)
    assert resolved_body["data"]["status"] == "RESOLVED"


def test_resolve_only_the_given_descriptions(owner):
    account, _ = owner.linked_account()
    services.issue_record_failure(account=account, error_description="Invalid API key", detail="401")
    services.issue_record_failure(account=account, error_description="Third-party offline", detail="500")
    count = services.issues_resolve_for_account(
        account=account, reason="Relinked", error_descriptions=CREDENTIAL_ERRORS
    )
    assert count == 1
    assert set(
        Issue.objects.filter(linked_account=account, status="ONGOING").values_list(
            "error_description", flat=True
        )
    ) == {"Third-party offline"}
    assert services.issues_resolve_for_account(account=account, reason="Sync succeeded") == 1
    assert services.issues_resolve_for_account(account=account, reason="Sync succeeded") == 0


def test_unknown_error_description_is_refused(owner):
    account, _ = owner.linked_account()
    with pytest.raises(ValueError):
        services.issue_record_failure(account=account, error_description="Bad vibes", detail="?")
    assert not Issue.objects.exists()


def test_one_ongoing_issue_per_account_and_description_is_enforced_by_the_database(owner):
    account, _ = owner.linked_account()
    issue = services.issue_record_failure(account=account, error_description="Rate limited", detail="429")
    with pytest.raises(IntegrityError), transaction.atomic():
        Issue.objects.create(
            organization=owner.organization,
            linked_account=account,
            account_type=account.account_type,
            error_description="Rate limited",
            first_incident_time=issue.first_incident_time,
            last_incident_time=issue.last_incident_time,
        )


def test_mute_fires_issue_muted_once_and_silences_later_events(owner, endpoint):
    account, _ = owner.linked_account()
    issue = services.issue_record_failure(account=account, error_description="Rate limited", detail="429")
    services.issue_mute(issue=issue, muted_by="ops@example.com")
    services.issue_mute(issue=issue, muted_by="ops@example.com")
    assert issue.is_muted
    services.issues_resolve_for_account(account=account, reason="ok")
    services.issue_record_failure(account=account, error_description="Rate limited", detail="429")
    assert events_for(endpoint) == ["Issue.new", "Issue.muted"]
    muted_body = json.loads(WebhookDelivery.objects.get(event="Issue.muted").body)
    assert muted_body["data"]["is_muted"] is True
    services.issue_unmute(issue=issue)
    assert not issue.is_muted


def test_failure_runs_inside_the_callers_transaction(owner, endpoint):
    account, _ = owner.linked_account()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.issue_record_failure(account=account, error_description="Rate limited", detail="429")
        raise RuntimeError("the sync blew up after recording")
    assert not Issue.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_account_deletion_removes_its_issues(owner):
    from accounts.services import linked_account_delete

    account, _ = owner.linked_account()
    services.issue_record_failure(account=account, error_description="Rate limited", detail="429")
    linked_account_delete(account=account)
    assert not Issue.objects.exists()
