"""Deliveries travel in batches: one transaction's events become one send task, and a task sends
its batch with one claim, one insert of attempt rows and one write of the successes. A real
receiver on 127.0.0.1 answers."""

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from issues.models import AttemptOutcome, DeliveryStatus, WebhookAttempt, WebhookDelivery
from issues.webhooks.delivery import webhook_deliveries_send
from issues.webhooks.endpoints import webhook_endpoint_create

from .conftest import emit_many
from .receiver import Answer, Receiver

pytestmark = pytest.mark.django_db


def test_one_transaction_of_events_is_queued_as_one_batch(hooked, django_capture_on_commit_callbacks):
    _, account = hooked
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        deliveries = emit_many(account, 30)
    assert len(deliveries) == 30
    [batch] = callbacks  # 30 deliveries, one hook on commit
    assert batch.ids == [str(d.id) for d in deliveries]


def test_a_rolled_back_savepoint_does_not_take_the_outer_deliveries_with_it(
    hooked, django_capture_on_commit_callbacks
):
    _, account = hooked
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        kept = emit_many(account, 2)
        try:
            with transaction.atomic():
                emit_many(account, 1)
                raise RuntimeError("roll this part back")
        except RuntimeError:
            pass
        kept += emit_many(account, 1)
    queued = [i for hook in callbacks for i in hook.ids]
    assert {str(d.id) for d in kept} <= set(queued)
    assert WebhookDelivery.objects.count() == 3


def test_a_batch_arrives_once_each_and_is_recorded(hooked, receiver):
    _, account = hooked
    deliveries = emit_many(account, 12)
    outcomes = webhook_deliveries_send(delivery_ids=[d.id for d in deliveries])
    assert outcomes == {d.id: AttemptOutcome.SUCCESS for d in deliveries}
    assert receiver.ids() == [str(d.id) for d in deliveries]  # once each, in order
    assert all(r.merge_signature_ok and r.standard_signature_ok for r in receiver.received)
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED, claimed_until=None).count() == 12
    attempts = WebhookAttempt.objects.filter(delivery__in=deliveries)
    assert attempts.count() == 12
    assert set(attempts.values_list("outcome", "status_code", "number")) == {(AttemptOutcome.SUCCESS, 200, 1)}
    # A second run finds nothing left to send.
    assert webhook_deliveries_send(delivery_ids=[d.id for d in deliveries]) == {}
    assert len(receiver.received) == 12


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the batched writes are PostgreSQL's")
def test_a_batch_costs_a_few_queries_not_a_few_per_delivery(hooked, receiver):
    _, account = hooked
    deliveries = emit_many(account, 31)
    webhook_deliveries_send(delivery_ids=[deliveries[0].id])  # the endpoint's last success
    with CaptureQueriesContext(connection) as small:
        webhook_deliveries_send(delivery_ids=[d.id for d in deliveries[1:4]])
    with CaptureQueriesContext(connection) as large:
        webhook_deliveries_send(delivery_ids=[d.id for d in deliveries[4:]])
    assert len(small) == 2  # the claim with its attempt rows (issues/webhooks/claim.py), the successes
    # Successes are also written every few milliseconds, so a batch of 27 makes a few more.
    assert len(large) <= 3 + 27 // 4, [q["sql"][:60] for q in large.captured_queries]
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 31


def test_failures_in_a_batch_are_retried_alone_and_the_endpoint_follows_the_last_send(hooked, receiver):
    endpoint, account = hooked
    receiver.script = [Answer(200), Answer(500), Answer(200)]
    first, failed, last = emit_many(account, 3)
    outcomes = webhook_deliveries_send(delivery_ids=[first.id, failed.id, last.id])
    assert outcomes == {
        first.id: AttemptOutcome.SUCCESS,
        failed.id: AttemptOutcome.TRANSIENT,
        last.id: AttemptOutcome.SUCCESS,
    }
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.PENDING and failed.next_attempt_at is not None
    assert failed.last_status_code == 500 and failed.claimed_until is None
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2
    endpoint.refresh_from_db()
    # The 500 marked the endpoint failing; the success after it cleared that.
    assert endpoint.failing_since is None and endpoint.last_success_at is not None


def test_a_slow_receiver_makes_the_batch_hand_back_what_its_lease_cannot_cover(hooked, receiver, settings):
    # One attempt may take 0.1 + 0.5 + 0.6 = 1.2 s; the claim lasts 2.4 s. At 0.3 s a send, a
    # batch of 8 cannot all be sent under it: the rest is handed back untouched.
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 0.1
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS = 0.6
    receiver.default = Answer(200, delay=0.3)
    _, account = hooked
    deliveries = emit_many(account, 8)
    ids = [d.id for d in deliveries]
    outcomes = webhook_deliveries_send(delivery_ids=ids)
    sent = [i for i in ids if i in outcomes]
    handed_back = [i for i in ids if i not in outcomes]
    assert sent == ids[: len(sent)] and 1 <= len(sent) < 8
    assert set(outcomes.values()) == {AttemptOutcome.SUCCESS}
    for delivery in WebhookDelivery.objects.filter(pk__in=handed_back):
        assert delivery.status == DeliveryStatus.PENDING
        assert (
            delivery.claimed_until is None and delivery.attempt_count == 0 and delivery.window_attempts == 0
        )
    assert not WebhookAttempt.objects.filter(delivery_id__in=handed_back).exists()
    # Sent by the next task (the one the hand-back queued): every event arrives exactly once.
    receiver.default = Answer(200)
    webhook_deliveries_send(delivery_ids=handed_back)
    assert sorted(receiver.ids()) == sorted(str(i) for i in ids)
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 8


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks need PostgreSQL")
def test_two_workers_with_overlapping_batches_send_each_delivery_once(owner, settings):
    receiver = Receiver().start()
    try:
        endpoint, key = webhook_endpoint_create(organization=owner.organization, url=receiver.url)
        receiver.signature_key = key
        account, _ = owner.linked_account()
        receiver.default = Answer(200, delay=0.01)
        ids = [d.id for d in emit_many(account, 40)]
        results: list[dict] = []

        def send(batch):
            try:
                results.append(webhook_deliveries_send(delivery_ids=batch))
            finally:
                connection.close()

        # Overlapping, not equal: whichever claims first, the other still owns 10 only it asked
        # for, so both workers send something and the 20 in the middle are fought over.
        batches = (ids[:30], list(reversed(ids[10:])))
        threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 2 and all(len(outcome) >= 10 for outcome in results), results
        sent = [i for outcome in results for i in outcome]
        assert sorted(sent) == sorted(ids)  # each claimed by exactly one of the two
        assert sorted(receiver.ids()) == sorted(str(i) for i in ids)
    finally:
        receiver.stop()
