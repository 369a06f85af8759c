"""Sending deliveries to a real receiver on 127.0.0.1, one attempt at a time (the service the
send task calls): signatures, outcomes, the retry schedule, bounded reads, auto-disable."""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.selectors import linked_account_details
from issues import services
from issues.models import (
    AttemptOutcome,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookNotice,
)
from issues.webhooks.delivery import webhook_deliveries_send
from issues.webhooks.endpoints import webhook_endpoint_create, webhook_endpoint_rotate_key
from issues.webhooks.events import webhook_event_emit
from issues.webhooks.sweeps import webhook_deliveries_requeue_due, webhook_delivery_redeliver

from .receiver import Answer, Receiver, free_port


def send_one(delivery_id):
    """Send one delivery through the batch service: its outcome, or None when it was not ours."""
    return webhook_deliveries_send(delivery_ids=[delivery_id]).get(delivery_id)


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.05
    settings.WEBHOOK_RETRY_JITTER = 0.0
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 1.0
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 1.0
    settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS = 2.0


def emit(account, event="LinkedAccount.sync_completed", data=None) -> WebhookDelivery:
    deliveries = webhook_event_emit(
        organization=account.organization,
        event=event,
        account_details=linked_account_details(account=account),
        data=data or {"n": 1},
    )
    assert len(deliveries) == 1
    return deliveries[0]


def attempt_when_due(delivery: WebhookDelivery, timeout: float = 5) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome = send_one(delivery.id)
        if outcome is not None:
            return outcome
        time.sleep(0.02)
    raise AssertionError("delivery never became due")


def test_delivery_is_signed_both_ways_over_the_raw_body(hooked, receiver):
    endpoint, account = hooked
    delivery = emit(account, data={"unicode": "Zürich ✓", "n": 2})
    assert send_one(delivery.id) == AttemptOutcome.SUCCESS
    [got] = receiver.received
    assert got.merge_signature_ok and got.standard_signature_ok
    assert got.webhook_id == str(delivery.id)
    assert got.headers["content-type"] == "application/json"
    assert got.raw_body.decode() == delivery.body
    body = got.json
    assert body["hook"] == {
        "id": str(delivery.id),
        "event": "LinkedAccount.sync_completed",
        "target": receiver.url,
    }
    assert body["linked_account"] == linked_account_details(account=account)
    assert body["data"] == {"unicode": "Zürich ✓", "n": 2}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.delivered_at
    assert delivery.next_attempt_at is None and delivery.claimed_until is None
    [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.outcome == AttemptOutcome.SUCCESS and attempt.status_code == 200
    assert attempt.response_body == "ok" and attempt.duration_ms is not None
    # Sent and done: a duplicate task finds nothing to claim.
    assert send_one(delivery.id) is None
    assert len(receiver.received) == 1


def test_wrong_key_fails_verification_at_the_receiver(hooked, receiver):
    _, account = hooked
    receiver.signature_key = "whsec_" + "A" * 44
    send_one(emit(account).id)
    assert not receiver.received[0].merge_signature_ok
    assert not receiver.received[0].standard_signature_ok


def _verifies(key: str, got) -> tuple[bool, bool]:
    """(Merge header, Standard Webhooks headers) verify with `key`, as a receiver would check."""
    expected = base64.urlsafe_b64encode(
        hmac.new(key.encode(), got.raw_body, hashlib.sha256).digest()
    ).decode()
    merge_ok = hmac.compare_digest(expected, got.headers["x-merge-webhook-signature"])
    try:
        Webhook(key).verify(got.raw_body, got.headers, json_parse=False)
    except WebhookVerificationError:
        return merge_ok, False
    return merge_ok, True


def test_a_rotated_key_overlaps_the_old_one_for_the_window(hooked, receiver, settings):
    """Rotation does not switch at once: for WEBHOOK_KEY_ROTATION_OVERLAP_HOURS the Standard
    Webhooks header carries signatures by both keys (receivers move to the new key at their
    pace) and the Merge header, which holds one signature, stays on the old key; then only the
    new key signs."""
    settings.WEBHOOK_KEY_ROTATION_OVERLAP_HOURS = 24
    endpoint, account = hooked
    old_key = receiver.signature_key
    receiver.verify = False
    rotated_at = timezone.now()
    with time_machine.travel(rotated_at, tick=False):
        new_key = webhook_endpoint_rotate_key(endpoint=endpoint)
    assert new_key != old_key

    def sent_after(elapsed: timedelta) -> tuple[int, tuple[bool, bool], tuple[bool, bool]]:
        """One event sent `elapsed` after the rotation: how many signatures its Standard Webhooks
        header holds, and what the old and the new key verify (Merge, Standard Webhooks).
        Verified at the time of sending: a Standard Webhooks check refuses old timestamps."""
        with time_machine.travel(rotated_at + elapsed, tick=False):
            send_one(emit(account).id)
            got = receiver.received[-1]
            return (
                len(got.headers["webhook-signature"].split(" ")),
                _verifies(old_key, got),
                _verifies(new_key, got),
            )

    assert sent_after(timedelta(hours=23, minutes=59)) == (2, (True, True), (False, True))
    assert sent_after(timedelta(hours=24, minutes=1)) == (1, (False, False), (True, True))
    assert len(receiver.received) == 2


def test_rotating_twice_in_the_window_keeps_only_the_last_two_keys(hooked, receiver):
    endpoint, account = hooked
    first = receiver.signature_key
    second = webhook_endpoint_rotate_key(endpoint=endpoint)
    third = webhook_endpoint_rotate_key(endpoint=endpoint)
    receiver.verify = False
    send_one(emit(account).id)
    [got] = receiver.received
    assert _verifies(first, got) == (False, False)  # the first key signs nothing any more
    assert _verifies(second, got) == (True, True)
    assert _verifies(third, got) == (False, True)


def test_500_500_200_arrives_on_the_third_attempt(hooked, receiver):
    _, account = hooked
    receiver.script = [Answer(500, b"boom"), Answer(502, b"bad gateway")]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        delivery = emit(account)
    # Frozen time: each wait is exactly the schedule's (base 0.05 s here, no jitter).
    now, outcomes, waits = start, [], []
    for _ in range(3):
        with time_machine.travel(now, tick=False):
            outcomes.append(send_one(delivery.id))
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            waits.append((delivery.next_attempt_at - now).total_seconds())
            now = delivery.next_attempt_at
    assert outcomes == ["TRANSIENT", "TRANSIENT", "SUCCESS"]
    # Exponential: exactly base, then twice base (no more, no less).
    assert waits == [0.05, 0.1]
    assert len(receiver.received) == 3
    assert len(receiver.unique_ids()) == 1  # the same webhook-id each time
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.status_code, a.outcome) for a in attempts] == [
        (1, 500, "TRANSIENT"),
        (2, 502, "TRANSIENT"),
        (3, 200, "SUCCESS"),
    ]
    assert attempts[0].response_body == "boom" and attempts[0].error == "HTTP 500"


def test_a_400_is_final(hooked, receiver):
    _, account = hooked
    receiver.script = [Answer(400, b'{"error": "bad"}')]
    delivery = emit(account)
    assert send_one(delivery.id) == AttemptOutcome.PERMANENT
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None
    assert delivery.last_status_code == 400
    with time_machine.travel(timezone.now() + timedelta(days=1)):  # long after any retry would be due
        assert send_one(delivery.id) is None
    assert webhook_deliveries_requeue_due() == 0
    assert len(receiver.received) == 1


@pytest.mark.parametrize("status", [408, 429, 503])
def test_retryable_statuses(hooked, receiver, status):
    _, account = hooked
    receiver.script = [Answer(status)]
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        delivery = emit(account)
        assert send_one(delivery.id) == AttemptOutcome.TRANSIENT
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at == now + timedelta(seconds=0.05)  # the first wait of the schedule


def test_retry_after_is_honoured(hooked, receiver):
    _, account = hooked
    receiver.script = [Answer(429, b"slow down", headers={"Retry-After": "120"})]
    delivery = emit(account)
    before = timezone.now()
    send_one(delivery.id)
    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 119 <= wait <= 122  # not the 0.05 s backoff
    assert send_one(delivery.id) is None  # not due yet


def test_connection_refused_is_retried_until_the_receiver_comes_back(owner):
    port = free_port()
    receiver = Receiver(port=port)
    endpoint, key = webhook_endpoint_create(organization=owner.organization, url=receiver.url)
    receiver.signature_key = key
    account, _ = owner.linked_account()
    delivery = emit(account)
    assert attempt_when_due(delivery) == AttemptOutcome.TRANSIENT
    assert attempt_when_due(delivery) == AttemptOutcome.TRANSIENT
    attempt = WebhookAttempt.objects.filter(delivery=delivery).first()
    assert attempt.status_code is None and "Connection error" in attempt.error
    receiver.start()
    try:
        assert attempt_when_due(delivery) == AttemptOutcome.SUCCESS
        assert receiver.received[0].merge_signature_ok
    finally:
        receiver.stop()


def test_a_50_mb_answer_is_cut_short_and_recorded_truncated(hooked, receiver, settings):
    settings.WEBHOOK_RESPONSE_BODY_LIMIT = 1000
    _, account = hooked
    receiver.script = [Answer(200, mode="huge")]
    delivery = emit(account)
    started = time.monotonic()
    assert send_one(delivery.id) == AttemptOutcome.SUCCESS
    assert time.monotonic() - started < 2.0
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.response_truncated and len(attempt.response_body) == 1000


def test_a_receiver_that_never_finishes_costs_at_most_the_timeout(hooked, receiver):
    _, account = hooked
    receiver.script = [Answer(500, mode="hang")]
    delivery = emit(account)
    started = time.monotonic()
    outcome = send_one(delivery.id)
    elapsed = time.monotonic() - started
    # total budget 2 s, plus at most one read timeout (1 s) for the last chunk
    assert elapsed < 3.5, elapsed
    assert outcome == AttemptOutcome.TRANSIENT
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.response_truncated and attempt.response_body.startswith("partial")
    assert "total timeout" in attempt.error


def test_a_receiver_that_never_answers_times_out(hooked, receiver):
    _, account = hooked
    receiver.script = [Answer(200, delay=3)]
    delivery = emit(account)
    started = time.monotonic()
    assert send_one(delivery.id) == AttemptOutcome.TRANSIENT
    assert time.monotonic() - started < 2.0
    assert "Timeout" in WebhookAttempt.objects.get(delivery=delivery).error


def test_gives_up_after_the_retry_window(hooked, receiver, settings):
    settings.WEBHOOK_RETRY_WINDOW_HOURS = 0.3 / 3600  # 0.3 s
    _, account = hooked
    receiver.default = Answer(500)
    delivery = emit(account)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        send_one(delivery.id)
        delivery.refresh_from_db()
        if delivery.status != DeliveryStatus.PENDING:
            break
        time.sleep(0.02)
    assert delivery.status == DeliveryStatus.FAILED
    assert "Gave up" in delivery.last_error
    assert delivery.attempt_count >= 2


def test_endpoint_failing_for_the_whole_window_is_disabled_with_a_notice(hooked, receiver, settings):
    endpoint, account = hooked
    receiver.default = Answer(500)
    d1 = emit(account)
    send_one(d1.id)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and endpoint.enabled
    # 24 hours of nothing but failures later:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(hours=25))
    attempt_when_due(d1)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_at
    notice = WebhookNotice.objects.get(endpoint=endpoint)
    assert endpoint.url in notice.message and notice.kind == "ENDPOINT_DISABLED"
    # No new deliveries while disabled; the pending one is not sent again.
    assert (
        webhook_event_emit(
            organization=account.organization,
            event="LinkedAccount.sync_completed",
            account_details=linked_account_details(account=account),
            data={},
        )
        == []
    )
    sent = len(receiver.received)
    time.sleep(0.3)
    assert send_one(d1.id) == AttemptOutcome.PERMANENT
    assert len(receiver.received) == sent


def test_a_success_resets_the_failure_clock(hooked, receiver):
    endpoint, account = hooked
    receiver.script = [Answer(500)]
    d = emit(account)
    attempt_when_due(d)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    attempt_when_due(d)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.last_success_at is not None


def test_redeliver_sends_the_same_body_again(hooked, receiver):
    _, account = hooked
    receiver.script = [Answer(400)]
    delivery = emit(account)
    send_one(delivery.id)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    webhook_delivery_redeliver(delivery=delivery)
    assert delivery.status == DeliveryStatus.PENDING
    assert send_one(delivery.id) == AttemptOutcome.SUCCESS
    assert [r.raw_body for r in receiver.received] == [delivery.body.encode()] * 2
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", flat=True)) == [1, 2]


def test_the_sweep_requeues_only_stale_unclaimed_due_deliveries(hooked, settings):
    settings.WEBHOOK_REQUEUE_AFTER_SECONDS = 60
    _, account = hooked
    fresh = emit(account)
    assert webhook_deliveries_requeue_due() == 0  # its task is (presumably) on the queue
    stale = emit(account)
    WebhookDelivery.objects.filter(pk=stale.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    claimed = emit(account)
    WebhookDelivery.objects.filter(pk=claimed.pk).update(
        queued_at=timezone.now() - timedelta(minutes=5), claimed_until=timezone.now() + timedelta(minutes=1)
    )
    assert webhook_deliveries_requeue_due() == 1
    assert webhook_deliveries_requeue_due() == 0  # marked queued: not twice
    queued = {
        d.pk: d.queued_at for d in WebhookDelivery.objects.filter(pk__in=[fresh.pk, stale.pk, claimed.pk])
    }
    assert timezone.now() - queued[stale.pk] < timedelta(minutes=1)  # the stale one was queued again
    assert queued[fresh.pk] == fresh.queued_at  # the fresh one was left alone
    assert timezone.now() - queued[claimed.pk] > timedelta(minutes=4)  # and so was the claimed one


def test_payloads_never_carry_secrets(hooked, receiver):
    endpoint, account = hooked
    from accounts.selectors import linked_account_token

    services.issue_record_failure(account=account, error_description="Invalid API key", detail="401")
    delivery = WebhookDelivery.objects.get(event="Issue.new")
    send_one(delivery.id)
    raw = receiver.received[0].raw_body.decode()
    assert linked_account_token(account=account) not in raw
    assert "sk_sandbox_" not in raw
    assert receiver.signature_key not in raw
    assert receiver.signature_key not in json.dumps(list(WebhookAttempt.objects.values()), default=str)
