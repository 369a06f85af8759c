"""Fault drills with real processes (tests/faults/conftest.py): gunicorn, a Celery worker with
beat, a private Redis, the sandbox provider and a webhook receiver, on PostgreSQL.

- Redis stops for 30 s while syncs and deliveries run: nothing is lost, everything completes
  once it is back, and the API serves stored data all along.
- A worker is killed with SIGKILL mid-sync: after the lease the run is failed, no account stays
  in a running sync, and the next run succeeds.
- PostgreSQL drops every connection (pg_terminate_backend on the test database's backends: the
  shared server cannot be restarted while others use it): web and worker reconnect by themselves.
- The provider answers in 5 s per request: runs end at their time limit and other work
  (a webhook delivery) still gets a worker within one time limit.
"""

import time
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AccountType, LinkedAccount
from issues.models import DeliveryStatus, WebhookDelivery
from issues.webhooks.endpoints import webhook_endpoint_create
from issues.webhooks.events import webhook_endpoint_send_test
from syncs.dispatch import sync_queue_now
from syncs.models import SyncRun, SyncRunStatus
from tests.conftest import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

TEST = AccountType.TEST


def _accounts(owner, n: int, prefix: str):
    return [owner.linked_account(origin_id=f"{prefix}-{i}", account_type=TEST) for i in range(n)]


def _make_due(accounts) -> None:
    LinkedAccount.objects.filter(pk__in=[a.pk for a, _ in accounts]).update(next_sync_at=timezone.now())


def _done_since(account, since) -> bool:
    return SyncRun.objects.filter(
        linked_account=account, status=SyncRunStatus.DONE, started_at__gte=since
    ).exists()


def _api(web, owner, token=None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {owner.test_key}"}
    if token:
        headers["X-Account-Token"] = token
    return httpx.Client(base_url=web.url, headers=headers, timeout=30)


def _sync_completed_for(receiver, account_id: str) -> int:
    return sum(
        1
        for e in receiver.events()
        if e["hook"]["event"] == "LinkedAccount.sync_completed" and e["linked_account"]["id"] == account_id
    )


def test_redis_outage_of_30_seconds_loses_nothing(stack_factory, owner, sandbox_provider, receiver):
    stack = stack_factory()
    accounts = _accounts(owner, 4, "redis")
    webhook_endpoint_create(
        organization=owner.organization, url=receiver.url, events=["LinkedAccount.sync_completed"]
    )
    _make_due(accounts)
    web = stack.start_web()
    stack.start_worker(beat=True)
    started = timezone.now() - timedelta(seconds=1)
    wait_until(lambda: all(_done_since(a, started) for a, _ in accounts), timeout=60, message="first syncs")
    wait_until(
        lambda: all(_sync_completed_for(receiver, str(a.pk)) >= 1 for a, _ in accounts),
        timeout=60,
        message="first sync_completed webhooks",
    )

    outage_started = timezone.now()
    stack.redis.stop()
    # While Redis is down: resyncs asked through the API, and accounts whose schedule comes due.
    resync_statuses = [
        _api(web, owner, token).post("/api/hris/v1/sync-status/resync").status_code
        for _, token in accounts[:2]
    ]
    _make_due(accounts[2:])
    read_statuses, employee_counts = [], []
    until = time.monotonic() + 30
    while time.monotonic() < until:
        for _, token in accounts:
            response = _api(web, owner, token).get("/api/hris/v1/employees", params={"page_size": 5})
            read_statuses.append(response.status_code)
            if response.status_code == 200:
                employee_counts.append(len(response.json()["results"]))
        read_statuses.append(_api(web, owner).get("/api/hris/v1/linked-accounts").status_code)
        time.sleep(1)
    stack.redis.start()

    assert resync_statuses == [200, 200]
    assert set(read_statuses) == {200}, read_statuses
    assert employee_counts and min(employee_counts) == 5  # the stored data of the last sync
    wait_until(
        lambda: all(_done_since(a, outage_started) for a, _ in accounts),
        timeout=120,
        message="every account synced after Redis came back",
    )
    wait_until(
        lambda: all(_sync_completed_for(receiver, str(a.pk)) >= 2 for a, _ in accounts),
        timeout=120,
        message="every post-outage sync_completed webhook delivered",
    )
    wait_until(
        lambda: not WebhookDelivery.objects.exclude(status=DeliveryStatus.SUCCEEDED).exists(),
        timeout=60,
        message="no delivery left pending",
    )
    assert not SyncRun.objects.filter(status=SyncRunStatus.RUNNING).exists()


def test_worker_killed_mid_sync_recovers_after_the_lease(stack_factory, owner, sandbox_provider):
    stack = stack_factory()
    # As after a link: a forced first sync, no scheduled time yet.
    account, _ = _accounts(owner, 1, "kill")[0]
    assert LinkedAccount.objects.get(pk=account.pk).next_sync_at is None
    sandbox_provider.state.latency_ms = 2000
    worker = stack.start_worker(beat=True)
    sync_queue_now(account=account, reason="drill")
    run = wait_until(
        lambda: SyncRun.objects.filter(linked_account=account, status=SyncRunStatus.RUNNING).first(),
        timeout=30,
        message="a running sync",
    )
    time.sleep(1)
    worker.kill()  # SIGKILL to the worker's whole process group (beat included)
    assert SyncRun.objects.get(pk=run.pk).status == SyncRunStatus.RUNNING

    sandbox_provider.state.latency_ms = 0
    stack.start_worker(beat=True)
    wait_until(
        lambda: SyncRun.objects.get(pk=run.pk).status == SyncRunStatus.FAILED,
        timeout=60,
        message="the dead run failed after its lease",
    )
    assert SyncRun.objects.get(pk=run.pk).error_class == "lease_expired"
    wait_until(
        lambda: SyncRun.objects.filter(
            linked_account=account, status=SyncRunStatus.DONE, started_at__gt=run.started_at
        ).exists(),
        timeout=60,
        message="the next run succeeded",
    )
    assert not SyncRun.objects.filter(linked_account=account, status=SyncRunStatus.RUNNING).exists()


def _terminate_other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_dropped_database_connections_reconnect(stack_factory, owner, sandbox_provider):
    stack = stack_factory()
    account, token = _accounts(owner, 1, "pg")[0]
    web = stack.start_web()
    stack.start_worker(beat=True)
    client = _api(web, owner, token)
    assert {client.get("/api/hris/v1/account-details").status_code for _ in range(8)} == {200}
    before = timezone.now()
    assert client.post("/api/hris/v1/sync-status/resync").status_code == 200
    wait_until(lambda: _done_since(account, before), timeout=60, message="a sync before the drop")

    terminated = _terminate_other_backends()
    assert terminated >= 1  # at least the web threads' persistent connections (CONN_MAX_AGE)

    statuses = [client.get("/api/hris/v1/account-details").status_code for _ in range(10)]
    assert statuses == [200] * 10, statuses
    after = timezone.now()
    assert client.post("/api/hris/v1/sync-status/resync").status_code == 200
    wait_until(lambda: _done_since(account, after), timeout=60, message="a sync after the drop")
    assert "Traceback" not in stack.web.output()


def test_slow_provider_is_bounded_by_time_limits(
    stack_factory, owner, sandbox_provider, receiver, monkeypatch
):
    stack = stack_factory(
        extra_env={
            "SYNC_TASK_SOFT_TIME_LIMIT": "6",
            "SYNC_TASK_TIME_LIMIT": "9",
            "SYNC_RUN_LEASE_SECONDS": "30",
        }
    )
    # The publisher's limits travel in the message: this process queues the syncs below.
    from syncs.tasks import sync_account

    monkeypatch.setattr(sync_account, "soft_time_limit", 6)
    monkeypatch.setattr(sync_account, "time_limit", 9)
    monkeypatch.setattr(sync_account, "_exec_options", None)  # Celery caches them at the first send
    sandbox_provider.state.latency_ms = 5000
    accounts = _accounts(owner, 4, "slow")
    endpoint, _ = webhook_endpoint_create(organization=owner.organization, url=receiver.url)
    stack.start_worker(beat=False, concurrency=2)
    for account, _ in accounts:
        sync_queue_now(account=account, reason="drill")
    wait_until(
        lambda: SyncRun.objects.filter(status=SyncRunStatus.RUNNING).count() == 2,
        timeout=30,
        message="both worker slots busy with slow syncs",
    )
    queued_at = time.monotonic()
    webhook_endpoint_send_test(endpoint=endpoint)
    wait_until(lambda: receiver.received, timeout=40, message="the webhook delivered")
    delivery_wait = time.monotonic() - queued_at
    wait_until(
        lambda: (
            SyncRun.objects.filter(linked_account__in=[a for a, _ in accounts])
            .exclude(status=SyncRunStatus.RUNNING)
            .count()
            == 4
        ),
        timeout=60,
        message="all four slow runs ended",
    )
    # A worker slot is held at most one soft time limit (6 s) plus cleanup.
    assert delivery_wait < 6 + 5, delivery_wait
    for run in SyncRun.objects.filter(linked_account__in=[a for a, _ in accounts]):
        assert run.status == SyncRunStatus.FAILED, (
            run.status,
            run.started_at,
            run.finished_at,
            run.requests_total,
            run.trigger,
        )
        assert run.error_class == "time_limit", run.error_class
        assert (run.finished_at - run.started_at).total_seconds() < 9 + 2
