"""Deliveries through the real queue: rows written in the caller's transaction, send tasks queued
on commit to the real Redis, a real Celery worker process POSTing to a real receiver."""

import time

import pytest
from django.db import transaction

from config.celery import app as celery_app
from issues import services
from issues.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from issues.webhooks.endpoints import webhook_endpoint_create
from issues.webhooks.sweeps import webhook_deliveries_requeue_due
from tests.conftest import WorkerProcess, wait_until

from .conftest import emit_many
from .receiver import Answer, Receiver, free_port

FAST = {
    "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "WEBHOOK_RETRY_JITTER": "0.1",
    "WEBHOOK_REQUEUE_AFTER_SECONDS": "1",
    "WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
    "WEBHOOK_READ_TIMEOUT_SECONDS": "2",
    "WEBHOOK_TOTAL_TIMEOUT_SECONDS": "3",
}


@pytest.fixture
def fast(monkeypatch, settings):
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
        setattr(settings, name, float(value))
    pools = (celery_app.pool, celery_app.amqp._producer_pool)
    if any(getattr(pool, "_closed", False) for pool in pools):
        # An earlier test (a failed fault drill) can leave this process's broker pools closed;
        # every on-commit send would then be dropped. Start from fresh ones.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
    celery_app.control.purge()  # this test run's Redis db only: nothing stale from earlier tests


@pytest.fixture
def worker(fast, transactional_db):
    w = WorkerProcess(concurrency=2)
    yield w
    w.stop()


def hook(owner, receiver):
    # Not LinkedAccount.status_changed: the tests' own account setup would show up.
    endpoint, key = webhook_endpoint_create(
        organization=owner.organization,
        url=receiver.url,
        events=["LinkedAccount.sync_completed", "Issue.new"],
    )
    receiver.signature_key = key
    return endpoint


def emit_ids(account, n: int) -> list[str]:
    """n events, written in one transaction: nothing is queued before it commits."""
    with transaction.atomic():
        return [str(d.id) for d in emit_many(account, n)]


def test_each_event_arrives_once_with_valid_signatures(owner, worker, receiver):
    hook(owner, receiver)
    account, _ = owner.linked_account()
    worker.start()
    # Queued only when the transaction commits: a send queued earlier would find no committed
    # row to claim, and with no beat (no sweep) in this worker those deliveries would never
    # arrive, failing the wait below.
    with transaction.atomic():
        sent = emit_ids(account, 25)
        services.issue_record_failure(account=account, error_description="Invalid API key", detail="401")
    issue_delivery = WebhookDelivery.objects.get(event="Issue.new")
    expected = {*sent, str(issue_delivery.id)}
    wait_until(lambda: receiver.unique_ids() >= expected, timeout=30, message="all deliveries")
    # Every delivery recorded as delivered: none is claimable again, so every send that will
    # ever happen has happened; a duplicate would be in the receiver's list now.
    wait_until(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 26,
        message="deliveries marked delivered",
    )
    assert sorted(receiver.ids()) == sorted(expected)
    assert all(r.merge_signature_ok and r.standard_signature_ok for r in receiver.received)
    assert sorted(r.json["data"]["n"] for r in receiver.received if "n" in r.json["data"]) == list(range(25))


def test_500_twice_then_200_arrives_on_the_third_attempt(owner, worker, receiver):
    hook(owner, receiver)
    account, _ = owner.linked_account()
    receiver.script = [Answer(500), Answer(500)]
    worker.start()
    [delivery_id] = emit_ids(account, 1)
    wait_until(
        lambda: WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SUCCEEDED).exists(),
        timeout=30,
        message="delivered",
    )
    assert receiver.ids() == [delivery_id] * 3
    assert [r.merge_signature_ok for r in receiver.received] == [True] * 3
    outcomes = list(
        WebhookAttempt.objects.filter(delivery_id=delivery_id)
        .order_by("number")
        .values_list("status_code", "outcome")
    )
    assert outcomes == [(500, "TRANSIENT"), (500, "TRANSIENT"), (200, "SUCCESS")]


def test_a_400_is_not_retried(owner, worker, receiver):
    hook(owner, receiver)
    account, _ = owner.linked_account()
    receiver.default = Answer(400, b"no thanks")
    worker.start()
    [delivery_id] = emit_ids(account, 1)
    wait_until(
        lambda: WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.FAILED).exists(),
        message="final failure",
    )
    assert WebhookDelivery.objects.get(pk=delivery_id).next_attempt_at is None  # no retry planned
    assert webhook_deliveries_requeue_due() == 0  # and the sweep has nothing to queue
    # A later event goes through the same worker: once it has arrived, the worker has run
    # what was queued before it, and the 400 was still sent once.
    receiver.default = Answer(200)
    [later_id] = emit_ids(account, 1)
    wait_until(lambda: later_id in receiver.ids(), message="the later delivery")
    assert receiver.ids() == [delivery_id, later_id]
    assert WebhookAttempt.objects.filter(delivery_id=delivery_id).count() == 1


def test_a_receiver_that_is_down_for_a_while_gets_the_event_when_it_is_back(owner, worker):
    receiver = Receiver(port=free_port())  # not started: connection refused
    hook(owner, receiver)
    account, _ = owner.linked_account()
    worker.start()
    [delivery_id] = emit_ids(account, 1)
    wait_until(
        lambda: WebhookAttempt.objects.filter(delivery_id=delivery_id).count() >= 3,
        timeout=30,
        message="a few failed attempts",
    )
    assert not WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SUCCEEDED).exists()
    receiver.start()
    try:
        wait_until(lambda: receiver.ids(), timeout=30, message="the event after the receiver came back")
        assert receiver.ids() == [delivery_id]
        assert receiver.received[0].merge_signature_ok and receiver.received[0].standard_signature_ok
        wait_until(
            lambda: WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SUCCEEDED).exists(),
            message="marked delivered",
        )
        errors = list(WebhookAttempt.objects.filter(delivery_id=delivery_id, status_code__isnull=True))
        assert errors and all("Connection error" in a.error for a in errors)
    finally:
        receiver.stop()


def test_killing_the_worker_mid_batch_loses_nothing(owner, worker):
    total = 150
    receiver = Receiver().start()
    try:
        hook(owner, receiver)
        account, _ = owner.linked_account()
        receiver.default = Answer(200, delay=0.04)  # slow enough that the kill lands mid-batch
        worker.start()
        sent = set(emit_ids(account, total))
        wait_until(lambda: len(receiver.unique_ids()) >= 20, timeout=30, message="the batch under way")
        worker.kill()  # SIGKILL to the whole process group: tasks in hand are lost with it
        time.sleep(0.3)
        arrived_before_restart = len(receiver.unique_ids())
        assert arrived_before_restart < total, "the kill must land in the middle of the batch"
        assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()

        restarted = WorkerProcess(concurrency=2)
        restarted.start()
        try:
            # What the beat sweep does every few seconds: re-queue due, unclaimed deliveries.
            def all_arrived():
                webhook_deliveries_requeue_due()
                return receiver.unique_ids() >= sent

            wait_until(all_arrived, timeout=60, interval=0.5, message="every delivery after the restart")

            def all_recorded():
                webhook_deliveries_requeue_due()
                return WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == total

            # POSTs in flight at the kill arrived but were never recorded: their claims lapse and
            # they are sent again (the receiver sees the same webhook-id twice).
            wait_until(all_recorded, timeout=40, interval=0.5, message="every delivery marked delivered")
        finally:
            restarted.stop()
        assert receiver.unique_ids() == sent
        # At least once: duplicates are possible (a POST in flight at the kill), never many.
        assert len(receiver.ids()) - total <= 4
    finally:
        receiver.stop()


def test_the_sweeps_are_on_the_beat_schedule():
    tasks = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert {"issues.requeue_due_webhooks", "issues.process_status_changes"} <= tasks
    registered = celery_app.tasks
    assert "issues.requeue_due_webhooks" in registered and "issues.process_status_changes" in registered
