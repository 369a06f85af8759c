"""The beat jobs: dispatch of due accounts, lease recovery, request-log retention, IDLE."""

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts.models import LinkedAccount, SyncFrequency
from accounts.services import linked_account_set_sync_frequency
from syncs import dispatch, idle, request_logs, runs, tasks
from syncs.models import RequestLog, SyncRun
from tests.threads import race

from .conftest import bulk_accounts


@pytest.fixture
def published(monkeypatch):
    batches = []
    monkeypatch.setattr(
        tasks.sync_accounts_batch, "apply_async", lambda args, producer=None: batches.append(args[0])
    )
    return batches


@pytest.mark.django_db
def test_dispatch_hands_out_exactly_the_due_accounts_once_in_batches(owner, published, settings):
    settings.SYNC_DISPATCH_BATCH_SIZE = 7
    due = bulk_accounts(owner.organization, 20, prefix="due")
    bulk_accounts(owner.organization, 5, due=False, prefix="later")
    bulk_accounts(owner.organization, 4, status="RELINK_NEEDED", prefix="paused")
    bulk_accounts(owner.organization, 3, status="INCOMPLETE", prefix="incomplete")
    bulk_accounts(owner.organization, 2, status="IDLE", prefix="idle")
    manual = bulk_accounts(owner.organization, 2, prefix="manual")
    LinkedAccount.objects.filter(pk__in=[a.pk for a in manual]).update(next_sync_at=None)

    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert dispatch.sync_dispatch_due() == 22
    assert len([q for q in queries.captured_queries if "syncs_syncdispatch" in q["sql"]]) == 1  # the claim
    assert [len(b) for b in published] == [7, 7, 7, 1]
    handed = [i for b in published for i in b]
    idle = LinkedAccount.objects.filter(end_user_origin_id__startswith="idle").values_list("id", flat=True)
    assert sorted(handed) == sorted([str(a.pk) for a in due] + [str(i) for i in idle])
    # Handed out until their runs finish: the next tick finds nothing.
    assert dispatch.sync_dispatch_due() == 0
    assert len(published) == 4
    # A lost message: once the lease passes, they are handed out again.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SYNC_DISPATCH_LEASE_SECONDS + 1)):
        assert dispatch.sync_dispatch_due() == 22


@pytest.mark.django_db
def test_accounts_the_broker_did_not_take_are_due_again_at_the_next_tick(owner, monkeypatch, settings):
    settings.SYNC_DISPATCH_BATCH_SIZE = 5
    bulk_accounts(owner.organization, 12, prefix="down")
    sent = []

    def publish(args, producer=None):
        if len(sent) == 1:
            raise ConnectionError("broker down")
        sent.append(args[0])

    monkeypatch.setattr(tasks.sync_accounts_batch, "apply_async", publish)
    with pytest.raises(ConnectionError):
        dispatch.sync_dispatch_due()
    monkeypatch.setattr(
        tasks.sync_accounts_batch, "apply_async", lambda args, producer=None: sent.append(args[0])
    )
    assert dispatch.sync_dispatch_due() == 7  # the 5 of the first batch stay handed out
    assert sorted(i for batch in sent for i in batch) == sorted(
        str(i) for i in LinkedAccount.objects.values_list("id", flat=True)
    )


@pytest.mark.django_db
def test_a_finished_run_frees_the_account_for_its_next_time(owner, published, sandbox_provider, settings):
    settings.SYNC_DISPATCH_LEASE_SECONDS = 3600  # far longer than the account's interval
    account, _ = owner.linked_account(origin_id="often")
    linked_account_set_sync_frequency(account=account, sync_frequency=SyncFrequency.EVERY_5_MINUTES)
    LinkedAccount.objects.filter(pk=account.pk).update(next_sync_at=timezone.now())
    assert dispatch.sync_dispatch_due() == 1
    assert runs.sync_run_account(account_id=str(account.pk), trigger="schedule").status == "DONE"
    assert dispatch.sync_dispatch_due() == 0  # not due before its next time
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
        assert dispatch.sync_dispatch_due() == 1
    assert published[-1] == [str(account.pk)]


@pytest.mark.django_db
def test_dispatch_query_count_does_not_grow_with_due_accounts(owner, published):
    from django.test.utils import CaptureQueriesContext

    bulk_accounts(owner.organization, 10, prefix="a")
    with CaptureQueriesContext(connection) as small:
        dispatch.sync_dispatch_due()
    bulk_accounts(owner.organization, 500, prefix="b")
    with CaptureQueriesContext(connection) as large:
        dispatch.sync_dispatch_due()
    assert len(small.captured_queries) == len(large.captured_queries)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_never_double_enqueue(owner, published):
    accounts = bulk_accounts(owner.organization, 3000, prefix="race")

    def dispatcher() -> list[str]:
        claimed = []
        for _ in range(5):
            now = timezone.now()
            claimed += dispatch._claim_due(now=now, lease_until=now + timedelta(minutes=10), limit=400)
        return claimed

    results = race([dispatcher] * 4)
    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(1 for r in results if r) >= 2  # they really ran side by side
    # Dispatchers that pick the same due rows at once share them out (the later one waits, then
    # skips what the first took), so the racing rounds may leave some due; the next tick takes
    # those. In all: each account handed out exactly once.
    now = timezone.now()
    rest = dispatch._claim_due(now=now, lease_until=now + timedelta(minutes=10), limit=10_000)
    handed = [i for r in results for i in r] + rest
    assert len(handed) == len(set(handed)) == 3000
    assert set(handed) == {str(a.pk) for a in accounts}


@pytest.mark.django_db
def test_batches_expand_into_one_sync_task_per_account(owner, monkeypatch):
    sent = []
    monkeypatch.setattr(
        tasks.sync_account, "apply_async", lambda args, kwargs, producer=None: sent.append((args, kwargs))
    )
    assert dispatch.sync_batch_expand(account_ids=["a", "b"]) == 2
    assert sent == [(["a"], {"trigger": "schedule"}), (["b"], {"trigger": "schedule"})]


@pytest.mark.django_db
def test_next_sync_follows_frequency_and_idle_syncs_daily(owner, sandbox_provider):
    account, _ = owner.linked_account(origin_id="freq")
    run = runs.sync_run_account(account_id=str(account.pk), trigger="schedule")
    account = LinkedAccount.objects.get(pk=account.pk)
    assert account.next_sync_at == run.started_at + timedelta(hours=1)  # the organization default
    linked_account_set_sync_frequency(account=account, sync_frequency=SyncFrequency.EVERY_5_MINUTES)
    run = runs.sync_run_account(account_id=str(account.pk), trigger="schedule")
    account = LinkedAccount.objects.get(pk=account.pk)
    assert account.next_sync_at == run.started_at + timedelta(minutes=5)
    # IDLE: at most daily.
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        assert idle.linked_accounts_mark_idle() == 1
        account = LinkedAccount.objects.get(pk=account.pk)
        assert account.status == "IDLE"
        run = runs.sync_run_account(account_id=str(account.pk), trigger="schedule")
        account = LinkedAccount.objects.get(pk=account.pk)
        assert account.status == "IDLE"
        assert account.next_sync_at == run.started_at + timedelta(days=1)
        # A forced resync wakes it.
        runs.sync_run_account(account_id=str(account.pk), trigger="forced")
        account = LinkedAccount.objects.get(pk=account.pk)
        assert account.status == "COMPLETE"
    linked_account_set_sync_frequency(account=account, sync_frequency=SyncFrequency.MANUAL)
    runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    account = LinkedAccount.objects.get(pk=account.pk)
    assert account.next_sync_at is None


@pytest.mark.django_db
def test_idle_marking_respects_recent_inbound_use(owner):
    used, _ = owner.linked_account(origin_id="used")
    unused, _ = owner.linked_account(origin_id="unused")
    with time_machine.travel(timezone.now() + timedelta(days=10)):
        LinkedAccount.objects.filter(pk=used.pk).update(last_inbound_at=timezone.now())
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        assert idle.linked_accounts_mark_idle() == 1
    assert LinkedAccount.objects.get(pk=unused.pk).status == "IDLE"
    assert LinkedAccount.objects.get(pk=used.pk).status == "COMPLETE"


@pytest.mark.django_db
def test_an_account_never_runs_two_syncs_at_once(owner, sandbox_provider):
    account, _ = owner.linked_account(origin_id="twice")
    SyncRun.objects.create(
        linked_account=account,
        organization=owner.organization,
        integration="sandbox",
        trigger="schedule",
        started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    with pytest.raises(runs.SyncAlreadyRunning):
        runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert SyncRun.objects.filter(linked_account=account).count() == 1


@pytest.mark.django_db
def test_recovery_fails_runs_whose_lease_expired_and_makes_the_account_due(
    owner, sandbox_provider, published
):
    account, _ = owner.linked_account(origin_id="lost")
    LinkedAccount.objects.filter(pk=account.pk).update(next_sync_at=timezone.now())
    assert dispatch.sync_dispatch_due() == 1  # handed out; its run then dies
    LinkedAccount.objects.filter(pk=account.pk).update(next_sync_at=timezone.now() + timedelta(hours=1))
    lost = SyncRun.objects.create(
        linked_account=account,
        organization=owner.organization,
        integration="sandbox",
        trigger="schedule",
        started_at=timezone.now() - timedelta(hours=1),
        lease_expires_at=timezone.now() - timedelta(minutes=1),
    )
    assert dispatch.sync_runs_recover_expired() == 1
    lost.refresh_from_db()
    assert lost.status == "FAILED" and lost.error_class == "lease_expired"
    assert LinkedAccount.objects.get(pk=account.pk).next_sync_at <= timezone.now()
    assert dispatch.sync_runs_recover_expired() == 0
    assert dispatch.sync_dispatch_due() == 1  # handed out again at once, not after the dispatch lease
    # The account can sync again.
    assert runs.sync_run_account(account_id=str(account.pk), trigger="schedule").status == "DONE"


@pytest.mark.django_db
def test_request_log_retention_prunes_in_batches(owner):
    now = timezone.now()
    old = [
        RequestLog(integration="sandbox", method="GET", url="http://x/", created_at=now - timedelta(days=31))
        for _ in range(25)
    ]
    fresh = [
        RequestLog(integration="sandbox", method="GET", url="http://x/", created_at=now - timedelta(days=29))
        for _ in range(5)
    ]
    RequestLog.objects.bulk_create(old + fresh)
    assert request_logs.request_logs_prune(batch_size=10) == 25
    assert RequestLog.objects.count() == 5


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 600])
def test_request_logs_are_bulk_written(owner, count):
    from datetime import UTC, datetime

    from syncs.integrations.base import LoggedRequest

    account, _ = owner.linked_account(origin_id=f"logs-{count}")
    entries = [
        LoggedRequest(
            method="GET",
            url=f"https://x.example/p?cursor={i}",
            started_at=datetime.now(UTC),
            duration_ms=i,
            status_code=200 if i % 2 else None,
            error_class="" if i % 2 else "provider_offline",
        )
        for i in range(count)
    ]
    assert request_logs.request_logs_write(entries=entries, integration="sandbox", account=account) == count
    rows = RequestLog.objects.filter(linked_account=account).order_by("duration_ms")
    assert rows.count() == count
    last = rows.last()
    assert last.organization_id == owner.organization.id and last.url.endswith(f"cursor={count - 1}")
    assert rows.filter(error_class="provider_offline", status_code__isnull=True).count() == (count + 1) // 2


@pytest.mark.django_db(transaction=True)
def test_a_running_sync_reports_pages_and_records_so_far(owner, sandbox_provider, monkeypatch):
    """The dashboard's polling badge reads these counts while the run is still going."""
    monkeypatch.setattr(runs, "PROGRESS_INTERVAL_SECONDS", 0)
    sandbox_provider.state.latency_ms = 400  # each page request takes 0.4 s
    account, _ = owner.linked_account(origin_id="progress")
    worker = threading.Thread(
        target=lambda: (
            runs.sync_run_account(account_id=str(account.pk), trigger="forced"),
            connection.close(),
        )
    )
    worker.start()
    seen = []
    try:
        while worker.is_alive():
            run = SyncRun.objects.filter(linked_account=account, finished_at__isnull=True).first()
            if run is not None and run.records_fetched:
                seen.append((run.requests_total, run.records_fetched))
            time.sleep(0.05)
    finally:
        worker.join(timeout=30)
    assert seen, "no progress was visible while the run was going"
    assert seen[0][1] == 100 and seen[0][0] >= 1  # the first page of 100 employees, mid-run
    run = SyncRun.objects.get(linked_account=account)
    assert run.status == "DONE" and run.records_fetched == 200
