"""The delivery engine: claim due deliveries, POST each once, record every attempt and
schedule what comes next (the retry schedule, giving up, disabling a failing endpoint)."""

import logging
import random
import time
import uuid
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from ..metrics import webhook_attempt_observe
from ..models import (
    AttemptOutcome,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookNotice,
)
from . import account_tokens, sender
from .claim import webhook_deliveries_claim
from .queue import queue_sends
from .signing_keys import SigningKeys, signing_keys

logger = logging.getLogger(__name__)


def _retry_delay(*, window_attempts: int) -> float:
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * (2 ** max(0, window_attempts - 1))
    delay = min(settings.WEBHOOK_RETRY_MAX_DELAY_SECONDS, base)
    return delay * (1 + random.uniform(0, settings.WEBHOOK_RETRY_JITTER))


def _attempt_budget_seconds() -> float:
    # The most one attempt can take: connect + the total budget + the last read.
    return (
        settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS
        + settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS
        + settings.WEBHOOK_READ_TIMEOUT_SECONDS
    )


def _lease_until(now: datetime) -> datetime:
    # Longer than one attempt can take, so a live worker never loses its claim; a dead worker's
    # claim lapses and the sweep re-queues it. A batch sends while one more attempt still fits.
    budget = _attempt_budget_seconds()
    return now + timedelta(seconds=budget + min(5.0, budget))


# Successes are written together, at most this long after the first of them was sent: a worker
# that dies mid-batch makes receivers see again only the sends of its last few milliseconds.
_SUCCESS_WRITE_WINDOW_SECONDS = 0.025


# Not sent: a token-bearing event for an endpoint whose URL changed after it (final).
_URL_CHANGED = sender.SendResult(
    AttemptOutcome.PERMANENT, None, "", False, account_tokens.URL_CHANGED_ERROR[:500], 0, None
)


def webhook_deliveries_send(*, delivery_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Claim the due ones of `delivery_ids`, POST each once, record every attempt and schedule
    what comes next. Returns the outcome of each delivery sent; ids that were not ours to send
    (already sent, not due, claimed by another worker) are left out: running twice is harmless.

    One claim, one insert of the attempt rows and one write of the successes serve the whole
    batch. Deliveries are sent one after another while one more attempt still fits in the
    claim's lease; what is left then is handed back and queued again, so a slow receiver never
    lets a claim lapse under a live worker."""
    ids = list(dict.fromkeys(delivery_ids))
    now = timezone.now()
    lease = _lease_until(now)
    started = time.monotonic()
    deliveries, attempts = webhook_deliveries_claim(delivery_ids=ids, now=now, lease=lease)
    outcomes: dict[uuid.UUID, str] = {}
    disabled = [d.pk for d in deliveries if not d.endpoint.enabled]
    if disabled:
        WebhookDelivery.objects.filter(pk__in=disabled).update(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            claimed_until=None,
            last_error="Endpoint disabled",
            attempt_count=F("attempt_count") - 1,
        )
        outcomes.update(dict.fromkeys(disabled, AttemptOutcome.PERMANENT))
        deliveries = [d for d in deliveries if d.endpoint.enabled]
    if not deliveries:
        return outcomes
    keys: dict[uuid.UUID, SigningKeys] = {}
    bodies = account_tokens.bodies_to_send(deliveries)
    successes: list[tuple[WebhookDelivery, WebhookAttempt, sender.SendResult]] = []
    first_success = 0.0
    budget = _attempt_budget_seconds()
    lease_seconds = (lease - now).total_seconds()
    for index, (delivery, attempt) in enumerate(zip(deliveries, attempts, strict=True)):
        if index and time.monotonic() - started + budget > lease_seconds:
            _record_successes(successes)
            _release_claims(deliveries=deliveries[index:], attempts=attempts[index:], lease=lease)
            break
        endpoint = delivery.endpoint
        body = bodies[delivery.pk]
        if body is None:
            _record_successes(successes)
            _record_result(delivery=delivery, attempt=attempt, result=_URL_CHANGED)
            outcomes[delivery.pk] = _URL_CHANGED.outcome
            continue
        signed_at = timezone.now()
        if endpoint.pk not in keys:
            keys[endpoint.pk] = signing_keys(endpoint, at=signed_at)
        headers = sender.signed_headers(
            keys=keys[endpoint.pk], message_id=str(delivery.id), body=body, at=signed_at
        )
        sent_at = timezone.now()
        result = sender.send(url=endpoint.url, body=body, headers=headers)
        webhook_attempt_observe(outcome=result.outcome, due_at=delivery.next_attempt_at, started_at=sent_at)
        outcomes[delivery.pk] = result.outcome
        if result.outcome == AttemptOutcome.SUCCESS and connection.vendor == "postgresql":
            successes.append((delivery, attempt, result))
            if len(successes) == 1:
                first_success = time.monotonic()
            elif time.monotonic() - first_success >= _SUCCESS_WRITE_WINDOW_SECONDS:
                _record_successes(successes)
        else:
            _record_successes(successes)  # in order: the endpoint's state follows the sends
            _record_result(delivery=delivery, attempt=attempt, result=result)
    _record_successes(successes)
    return outcomes


def _release_claims(
    *, deliveries: list[WebhookDelivery], attempts: list[WebhookAttempt], lease: datetime
) -> None:
    """Hand back claimed deliveries that this batch will not send: unclaimed, their counts as
    they were, their unstarted attempt rows gone; then queued again."""
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        WebhookAttempt.objects.filter(pk__in=[a.pk for a in attempts]).delete()
        WebhookDelivery.objects.filter(pk__in=ids, claimed_until=lease).update(
            claimed_until=None,
            attempt_count=F("attempt_count") - 1,
            window_attempts=F("window_attempts") - 1,
            queued_at=timezone.now(),
        )
    queue_sends([str(i) for i in ids])


_SUCCESSES_SQL = """
WITH r AS (
    SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::integer[], %s::integer[], %s::text[], %s::boolean[])
        AS r(attempt_id, delivery_id, duration_ms, status_code, response_body, response_truncated)
), attempts AS (
    UPDATE issues_webhookattempt AS a
       SET duration_ms = r.duration_ms, outcome = 'SUCCESS', status_code = r.status_code,
           response_body = r.response_body, response_truncated = r.response_truncated, error = ''
      FROM r
     WHERE a.id = r.attempt_id
)
UPDATE issues_webhookdelivery AS d
   SET claimed_until = NULL, last_status_code = r.status_code, last_error = '', status = 'SUCCEEDED',
       delivered_at = %s, next_attempt_at = NULL
  FROM r
 WHERE d.id = r.delivery_id
"""


def _endpoint_needs_success_update(endpoint: WebhookEndpoint, now: datetime) -> bool:
    # last_success_at is kept to the minute: not one endpoint-row write per delivery.
    return (
        endpoint.failing_since is not None
        or endpoint.last_success_at is None
        or now - endpoint.last_success_at > timedelta(minutes=1)
    )


def _endpoint_record_success(*, endpoint: WebhookEndpoint, now: datetime) -> None:
    if _endpoint_needs_success_update(endpoint, now):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None, last_success_at=now)
        endpoint.failing_since, endpoint.last_success_at = None, now


def _record_successes(successes: list[tuple[WebhookDelivery, WebhookAttempt, sender.SendResult]]) -> None:
    """Complete successful attempts and their deliveries in one round trip (PostgreSQL), then
    the endpoints they went to. Two writes that need no joint commit: a crash between them only
    means one more send, which at-least-once allows. Empties `successes`."""
    if not successes:
        return
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _SUCCESSES_SQL,
            [
                [a.pk for _, a, _ in successes],
                [d.pk for d, _, _ in successes],
                [r.duration_ms for _, _, r in successes],
                [r.status_code for _, _, r in successes],
                [r.response_body for _, _, r in successes],
                [r.response_truncated for _, _, r in successes],
                now,
            ],
        )
    for endpoint in {id(d.endpoint): d.endpoint for d, _, _ in successes}.values():
        _endpoint_record_success(endpoint=endpoint, now=now)
    successes.clear()


def _record_result(*, delivery: WebhookDelivery, attempt: WebhookAttempt, result: sender.SendResult) -> None:
    """Record one attempt's result and schedule what comes next (failures; successes where the
    batched write is not used)."""
    now = timezone.now()
    endpoint = delivery.endpoint
    succeeded = result.outcome == AttemptOutcome.SUCCESS
    requeue_in: float | None = None
    # A failure also touches the endpoint: one transaction.
    with nullcontext() if succeeded else transaction.atomic():
        attempt.duration_ms = result.duration_ms
        attempt.outcome = result.outcome
        attempt.status_code = result.status_code
        attempt.response_body = result.response_body
        attempt.response_truncated = result.response_truncated
        attempt.error = result.error[:500]
        attempt.save(
            update_fields=[
                "duration_ms",
                "outcome",
                "status_code",
                "response_body",
                "response_truncated",
                "error",
            ]
        )
        fields: dict[str, Any] = {
            "claimed_until": None,
            "last_status_code": result.status_code,
            "last_error": result.error[:500],
        }
        if result.outcome == AttemptOutcome.SUCCESS:
            fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=now, next_attempt_at=None)
        elif result.outcome == AttemptOutcome.PERMANENT:
            fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        else:
            deadline = delivery.window_started_at + timedelta(hours=settings.WEBHOOK_RETRY_WINDOW_HOURS)
            if now >= deadline:
                fields.update(
                    status=DeliveryStatus.FAILED,
                    next_attempt_at=None,
                    last_error=f"Gave up after {settings.WEBHOOK_RETRY_WINDOW_HOURS:g} h: {result.error}"[
                        :500
                    ],
                )
            else:
                delay = _retry_delay(window_attempts=delivery.window_attempts)
                if result.retry_after_seconds is not None:
                    delay = result.retry_after_seconds
                next_at = min(now + timedelta(seconds=delay), deadline)
                requeue_in = max(0.0, (next_at - now).total_seconds())
                # Short waits ride on a countdown task; long ones are left to the sweep (a broker
                # holding an ETA task for hours redelivers it after its visibility timeout).
                short = requeue_in <= settings.WEBHOOK_REQUEUE_AFTER_SECONDS * 5
                fields.update(next_attempt_at=next_at, queued_at=next_at if short else None)
                if not short:
                    requeue_in = None
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
        if succeeded:
            _endpoint_record_success(endpoint=endpoint, now=now)
        else:
            _endpoint_record_failure(endpoint=endpoint, now=now)
    if requeue_in is not None:
        ids = [str(delivery.id)]
        transaction.on_commit(lambda: queue_sends(ids, countdown=requeue_in or None))


def _endpoint_record_failure(*, endpoint: WebhookEndpoint, now: datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    endpoint.failing_since = endpoint.failing_since or now
    cutoff = now - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True, failing_since__lte=cutoff).update(
        enabled=False,
        disabled_at=now,
        disabled_reason=f"Every delivery failed for {settings.WEBHOOK_DISABLE_AFTER_HOURS:g} hours",
    )
    if disabled:
        WebhookNotice.objects.create(
            organization_id=endpoint.organization_id,
            endpoint=endpoint,
            kind=WebhookNotice.Kind.ENDPOINT_DISABLED,
            message=(
                f"The webhook endpoint {endpoint.url} was disabled: every delivery to it failed for "
                f"{settings.WEBHOOK_DISABLE_AFTER_HOURS:g} hours. Fix the receiver, enable the endpoint "
                "again and redeliver the failed deliveries."
            ),
        )
        logger.warning(
            "webhook endpoint %s disabled after failing since %s", endpoint.pk, endpoint.failing_since
        )
