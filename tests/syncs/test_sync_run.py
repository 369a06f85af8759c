"""One sync run against the sandbox provider on a real socket: data, request logs, and the
Relink Needed rule (status, issues) after every run."""

import psycopg
import pytest
from django.db import connection

from accounts.models import LinkedAccount, LinkedAccountStatusChange
from issues.models import Issue, WebhookDelivery
from issues.webhooks.endpoints import webhook_endpoint_create
from issues.webhooks.outbox import status_changes_process
from syncs import credentials, runs, sandbox_controls
from syncs.integrations.base import ErrorClass, ProviderError
from syncs.models import Employee, RequestLog, SyncRun
from syncs.run_failure import sync_run_fail
from tests.conftest import database_url_for_tests


def _refresh(account) -> LinkedAccount:
    return LinkedAccount.objects.get(pk=account.pk)


def _sync(account, trigger="schedule"):
    return runs.sync_run_account(account_id=str(account.pk), trigger=trigger)


@pytest.mark.django_db
def test_credentials_validate_real_request(sandbox_provider):
    ok = credentials.credentials_validate(integration="sandbox", credentials={"api_key": "sk_sandbox_good"})
    assert ok.ok and ok.error_description is None
    bad = credentials.credentials_validate(
        integration="sandbox", credentials={"api_key": "nope_secret_value"}
    )
    assert not bad.ok and bad.error_description == "Invalid API key"
    assert "nope_secret_value" not in bad.message
    missing = credentials.credentials_validate(integration="sandbox", credentials={})
    assert not missing.ok and "API key" in missing.message
    sandbox_provider.state.global_outage = "http_500"
    offline = credentials.credentials_validate(
        integration="sandbox", credentials={"api_key": "sk_sandbox_good"}
    )
    assert not offline.ok and offline.error_description == "Third-party offline"
    unknown = credentials.credentials_validate(integration="nope", credentials={"api_key": "x"})
    assert not unknown.ok
    # Each real request was logged, without the key.
    assert RequestLog.objects.count() == 3
    assert not RequestLog.objects.filter(url__contains="sk_sandbox").exists()


@pytest.mark.django_db
def test_successful_sync_stores_employees_and_logs(owner, sandbox_provider):
    account, _ = owner.linked_account(origin_id="s1")
    run = _sync(account)
    assert run.status == "DONE"
    assert run.records_created == 200 and run.requests_total == 2 and run.requests_failed == 0
    assert Employee.objects.filter(linked_account=account).count() == 200
    ada = Employee.objects.get(linked_account=account, remote_id="emp_0010")
    assert ada.first_name == "Ada" and ada.employment_status == "ACTIVE"
    assert Employee.objects.get(linked_account=account, remote_id="emp_0020").employment_status == "INACTIVE"
    logs = list(RequestLog.objects.filter(sync_run=run))
    assert len(logs) == 2 and all(log.status_code == 200 and not log.error_class for log in logs)
    assert _refresh(account).next_sync_at is not None
    # A second run changes nothing it does not need to.
    again = _sync(account)
    assert again.status == "DONE" and again.records_created == 0 and again.records_updated == 0


@pytest.mark.django_db
def test_revoked_key_means_relink_needed_and_invalid_api_key_issue(owner, sandbox_provider):
    account, _ = owner.linked_account(origin_id="s2")
    _sync(account)
    sandbox_controls.sandbox_revoke_key(api_key="sk_sandbox_s2", tenant=str(account.organization_id))
    run = _sync(account)
    assert run.status == "FAILED" and run.error_class == "credentials_rejected"
    account = _refresh(account)
    assert account.status == "RELINK_NEEDED"
    issue = Issue.objects.get(linked_account=account)
    assert issue.error_description == "Invalid API key" and issue.status == "ONGOING"
    # The last good data stays.
    assert Employee.objects.filter(linked_account=account, remote_was_deleted=False).count() == 200
    # Paused: a scheduled run does nothing.
    assert _sync(account) is None
    assert SyncRun.objects.filter(linked_account=account).count() == 2


@pytest.mark.django_db
def test_outage_then_forced_resync_brings_account_back(owner, sandbox_provider):
    account, _ = owner.linked_account(origin_id="s3")
    sandbox_controls.sandbox_set_outage(
        api_key="sk_sandbox_s3", mode="http_500", tenant=str(account.organization_id)
    )
    run = _sync(account)
    assert run.status == "FAILED" and run.error_class == "provider_offline"
    assert _refresh(account).status == "RELINK_NEEDED"
    issue = Issue.objects.get(linked_account=account)
    assert issue.error_description == "Third-party offline" and issue.status == "ONGOING"
    sandbox_controls.sandbox_set_outage(
        api_key="sk_sandbox_s3", mode="none", tenant=str(account.organization_id)
    )
    run = _sync(account, trigger="forced")
    assert run.status == "DONE"
    assert _refresh(account).status == "COMPLETE"
    issue.refresh_from_db()
    assert issue.status == "RESOLVED"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks need PostgreSQL")
def test_a_finishing_sync_does_not_lock_its_organization(owner, sandbox_provider):
    """Syncs of one organization finish side by side: the run's transaction locks its account
    row, not the organization row it reads along (that made every sync of an organization wait
    in line, ~40 syncs/s at most)."""
    account, _ = owner.linked_account(origin_id="lock-org")
    with psycopg.connect(database_url_for_tests()) as other:
        # Another transaction is updating the organization row (an operator saving its
        # settings): the lock a plain UPDATE takes, which a finishing sync's FOR UPDATE of the
        # joined organization row used to wait for, as it waited for every other finishing sync.
        other.execute(
            "SELECT id FROM accounts_organization WHERE id = %s FOR NO KEY UPDATE", [owner.organization.pk]
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        try:
            run = _sync(account)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        other.rollback()
    assert run.status == "DONE" and run.records_created == 200


@pytest.mark.django_db
def test_a_failing_sync_announces_its_status_change_in_its_own_transaction(owner, sandbox_provider):
    webhook_endpoint_create(
        organization=owner.organization,
        url="https://hooks.example.com/detect",
        events=["Issue.new", "LinkedAccount.status_changed"],
    )
    account, _ = owner.linked_account(origin_id="s9")
    sandbox_controls.sandbox_revoke_key(api_key="sk_sandbox_s9", tenant=str(account.organization_id))
    assert _sync(account).status == "FAILED"
    change = LinkedAccountStatusChange.objects.get(linked_account=account, to_status="RELINK_NEEDED")
    assert change.from_status == "COMPLETE" and change.processed_at is not None
    assert status_changes_process(change_ids=[change.pk]) == 0  # nothing left for the outbox
    bodies = {d.event: d.body for d in WebhookDelivery.objects.filter(linked_account_uuid=account.pk)}
    assert set(bodies) == {"Issue.new", "LinkedAccount.status_changed"}
    assert '"from":"COMPLETE","to":"RELINK_NEEDED"' in bodies["LinkedAccount.status_changed"]
    # Issue.new describes the account as the failure found it (its status changed after).
    assert '"status":"COMPLETE"' in bodies["Issue.new"].split('"data"')[0]


@pytest.mark.django_db
def test_a_failed_run_that_lost_its_lease_writes_nothing(owner, sandbox_provider):
    account, _ = owner.linked_account(origin_id="s10")
    run = SyncRun.objects.create(
        linked_account=account,
        organization_id=account.organization_id,
        integration="sandbox",
        trigger="schedule",
        started_at=account.created_at,
        lease_expires_at=account.created_at,
        status="FAILED",  # the recovery job got there first
    )
    error = ProviderError(ErrorClass.CREDENTIALS_REJECTED, "The provider rejected the credentials.")
    assert (
        sync_run_fail(
            run=run,
            account=account,
            log=[],
            error=error,
            skipped=0,
            credentials_version=account.credentials_encrypted,
        )
        is None
    )
    assert (
        _refresh(account).status == "COMPLETE" and not Issue.objects.filter(linked_account=account).exists()
    )
