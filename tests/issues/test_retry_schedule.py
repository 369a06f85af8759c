"""The real webhook retry schedule with the production settings (issue 14, missing test 1): a
receiver that always fails, followed for 24 hours of frozen, travelled time: exponential
delays with their jitter, the 4 h cap, long waits left to the sweep, the deadline clamp and
giving up; final answers (401/403/404/410/3xx) are not retried; an HTTP-date Retry-After is
honoured."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import time_machine
from django.conf import settings

from issues.models import AttemptOutcome, DeliveryStatus, WebhookAttempt, WebhookDelivery
from issues.webhooks.delivery import webhook_deliveries_send

from .conftest import emit_many
from .receiver import Answer

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _send(delivery_id):
    return webhook_deliveries_send(delivery_ids=[delivery_id]).get(delivery_id)


def test_production_schedule_over_24_hours(hooked, receiver):
    # The production defaults, not a test's shortcuts.
    assert settings.WEBHOOK_RETRY_BASE_SECONDS == 30
    assert settings.WEBHOOK_RETRY_MAX_DELAY_SECONDS == 4 * 3600
    assert settings.WEBHOOK_RETRY_JITTER == 0.25
    assert settings.WEBHOOK_RETRY_WINDOW_HOURS == 24
    sweep_after = settings.WEBHOOK_REQUEUE_AFTER_SECONDS * 5
    _, account = hooked
    receiver.default = Answer(503, b"down")
    with time_machine.travel(START, tick=False):
        [delivery] = emit_many(account, 1)
    deadline = START + timedelta(hours=24)
    now = START
    waits: list[float] = []
    for attempt in range(1, 40):
        with time_machine.travel(now, tick=False):
            assert _send(delivery.id) == AttemptOutcome.TRANSIENT
        row = WebhookDelivery.objects.get(pk=delivery.pk)
        if row.status == DeliveryStatus.FAILED:
            break
        wait = (row.next_attempt_at - now).total_seconds()
        base = min(30 * 2 ** (attempt - 1), 4 * 3600)
        if row.next_attempt_at == deadline:  # the clamp: never past the window
            assert wait <= base * 1.25
        else:
            assert base <= wait <= base * 1.25, (attempt, wait)  # lower and upper bounds
        # Short waits ride on a countdown task; long ones are left to the sweep.
        assert row.queued_at == (row.next_attempt_at if wait <= sweep_after else None), (attempt, wait)
        waits.append(wait)
        now = row.next_attempt_at
    else:
        raise AssertionError("never gave up")

    assert row.status == DeliveryStatus.FAILED and row.next_attempt_at is None
    assert row.last_error.startswith("Gave up after 24 h")
    assert now == deadline  # the last attempt was at the deadline exactly (clamped)
    assert max(waits) <= 4 * 3600 * 1.25 and max(waits) >= 4 * 3600  # the cap was reached
    assert waits[:5] == sorted(waits[:5])  # growing
    attempts = WebhookAttempt.objects.filter(delivery_id=delivery.pk).count()
    assert attempts == len(waits) + 1 == len(receiver.received)
    # 9 doublings to reach the cap (~4.3 h), then 4 h apart up to 24 h: 13 to 16 attempts.
    assert 13 <= attempts <= 16, attempts


@pytest.mark.parametrize("status", [401, 403, 404, 410, 301, 302, 307, 308])
def test_final_answers_are_not_retried(hooked, receiver, status):
    _, account = hooked
    receiver.default = Answer(status, b"no", headers={"Location": "https://elsewhere.example/"})
    [delivery] = emit_many(account, 1)
    assert _send(delivery.id) == AttemptOutcome.PERMANENT
    row = WebhookDelivery.objects.get(pk=delivery.pk)
    assert row.status == DeliveryStatus.FAILED and row.next_attempt_at is None
    assert row.last_status_code == status
    assert _send(delivery.id) is None  # nothing left to send
    assert len(receiver.received) == 1  # and a redirect was not followed


def test_an_http_date_retry_after_is_honoured(hooked, receiver):
    _, account = hooked
    retry_at = START + timedelta(minutes=7)
    receiver.default = Answer(503, b"later", headers={"Retry-After": format_datetime(retry_at, usegmt=True)})
    with time_machine.travel(START, tick=False):
        [delivery] = emit_many(account, 1)
        assert _send(delivery.id) == AttemptOutcome.TRANSIENT
    row = WebhookDelivery.objects.get(pk=delivery.pk)
    assert row.next_attempt_at == retry_at  # not the 30-37.5 s of the schedule
    with time_machine.travel(retry_at - timedelta(seconds=1), tick=False):
        assert _send(delivery.id) is None  # not due yet
    receiver.default = Answer(200)
    with time_machine.travel(retry_at, tick=False):
        assert _send(delivery.id) == AttemptOutcome.SUCCESS
