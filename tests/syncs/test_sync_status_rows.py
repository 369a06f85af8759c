"""`sync_status_rows` reads the latest two runs and goes further back only when it must."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.timefmt import api_datetime
from syncs.models import SyncRun, SyncRunStatus
from syncs.selectors import sync_status_rows

pytestmark = pytest.mark.django_db


def _runs(account, *statuses):
    """Runs oldest first, a minute apart; the last one is the latest."""
    start = timezone.now() - timedelta(hours=1)
    for n, status in enumerate(statuses):
        started = start + timedelta(minutes=n)
        SyncRun.objects.create(
            linked_account=account,
            organization_id=account.organization_id,
            integration=account.integration,
            trigger="schedule",
            status=status,
            started_at=started,
            finished_at=None if status == SyncRunStatus.RUNNING else started + timedelta(seconds=5),
        )
    return start


def _row(account):
    [row] = sync_status_rows(account=account)
    return row


def test_no_runs_yet_is_an_initial_sync(owner):
    account, _ = owner.linked_account(origin_id="ss-0")
    row = _row(account)
    assert (
        row["is_initial_sync"] is True and row["last_sync_result"] is None and row["last_sync_start"] is None
    )


def test_a_success_older_than_the_latest_runs_still_counts(owner):
    account, _ = owner.linked_account(origin_id="ss-1")
    start = _runs(account, "DONE", "FAILED", "FAILED", "FAILED", "FAILED")
    row = _row(account)
    assert row["is_initial_sync"] is False
    assert row["last_sync_result"] == "FAILED" and row["status"] == "FAILED"
    assert row["last_sync_start"] == api_datetime(start + timedelta(minutes=4))


def test_while_a_run_is_going_the_last_result_is_the_run_before(owner):
    account, _ = owner.linked_account(origin_id="ss-2")
    start = _runs(account, "FAILED", "DONE", "RUNNING")
    row = _row(account)
    assert row["status"] == "SYNCING" and row["last_sync_result"] == "DONE"
    assert row["last_sync_start"] == api_datetime(start + timedelta(minutes=2))
    assert row["last_sync_finished"] == api_datetime(start + timedelta(minutes=1, seconds=5))
    assert row["is_initial_sync"] is False


def test_only_failures_is_still_an_initial_sync(owner):
    account, _ = owner.linked_account(origin_id="ss-3")
    _runs(account, "FAILED", "FAILED", "FAILED", "FAILED")
    assert _row(account)["is_initial_sync"] is True


def test_the_usual_case_is_one_query_for_the_runs(owner):
    account, _ = owner.linked_account(origin_id="ss-4")
    _runs(account, "DONE", "DONE", "DONE", "DONE")
    account.organization  # noqa: B018 - loaded before counting
    with CaptureQueriesContext(connection) as queries:
        row = _row(account)
    assert row["last_sync_result"] == "DONE" and row["is_initial_sync"] is False
    assert len(queries) == 1
