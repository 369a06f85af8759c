"""Claiming webhook deliveries for a send: the due, unclaimed ones of a batch are taken by a
conditional UPDATE (rows another worker is claiming are skipped), loaded with their endpoints,
and given their attempt rows. On PostgreSQL all of it is one statement (data-modifying CTEs):
a send costs this round trip, the POST and the write of its outcome. Used by the delivery
engine (`issues/webhooks/delivery.py`)."""

import uuid
from datetime import datetime

from django.db import connection
from django.db.models import F, Q

from ..models import AttemptOutcome, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

# Rows that another worker is claiming right now are skipped, not waited for: they are its.
_CLAIM_SQL = """
WITH due AS (
    SELECT id FROM issues_webhookdelivery
     WHERE id = ANY(%s) AND status = 'PENDING' AND next_attempt_at <= %s
       AND (claimed_until IS NULL OR claimed_until < %s)
       FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE issues_webhookdelivery AS d
       SET claimed_until = %s, attempt_count = d.attempt_count + 1, window_attempts = d.window_attempts + 1
      FROM due, issues_webhookendpoint AS e
     WHERE d.id = due.id AND e.id = d.endpoint_id
    RETURNING d.id, d.body, d.attempt_count, d.window_attempts, d.window_started_at, d.organization_id,
              e.id AS endpoint_id, e.url, e.enabled, e.signature_key_encrypted, e.failing_since,
              e.last_success_at, d.created_at, d.linked_account_uuid, e.url_changed_at,
              e.previous_signature_key_encrypted, e.key_rotated_at, d.next_attempt_at
), stale AS (
    -- An attempt still "in flight" from an earlier claim belonged to a worker that died. (The
    -- statement's parts share one snapshot: the attempts inserted below are not among these.)
    UPDATE issues_webhookattempt AS a
       SET outcome = 'TRANSIENT', error = 'The worker stopped during this attempt'
      FROM claimed AS c
     WHERE a.delivery_id = c.id AND c.enabled AND c.attempt_count > 1 AND a.outcome = 'IN_FLIGHT'
), attempts AS (
    INSERT INTO issues_webhookattempt
           (delivery_id, number, started_at, outcome, response_body, response_truncated, error)
    SELECT c.id, c.attempt_count, %s, 'IN_FLIGHT', '', false, '' FROM claimed AS c WHERE c.enabled
    RETURNING id, delivery_id
)
SELECT c.*, a.id FROM claimed AS c LEFT JOIN attempts AS a ON a.delivery_id = c.id
"""


def webhook_deliveries_claim(
    *, delivery_ids: list[uuid.UUID], now: datetime, lease: datetime
) -> tuple[list[WebhookDelivery], list[WebhookAttempt]]:
    """Claim the due, unclaimed ones of `delivery_ids` by a conditional UPDATE, load them with
    their endpoints, in the order asked, and write an attempt row (in flight, started `now`)
    for each whose endpoint is enabled. Returns the claimed deliveries (those of disabled
    endpoints too: the caller fails them) and the attempts, in the same order. One round trip
    on PostgreSQL."""
    if connection.vendor != "postgresql":
        return _claim_orm(delivery_ids=delivery_ids, now=now, lease=lease)
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [delivery_ids, now, now, lease, now])
        rows = cursor.fetchall()
    endpoints: dict[uuid.UUID, WebhookEndpoint] = {}
    claimed: dict[uuid.UUID, tuple[WebhookDelivery, int | None]] = {}
    for row in rows:
        delivery_id, body, attempts, window_attempts, window_started_at, organization_id = row[:6]
        endpoint = endpoints.get(row[6])
        if endpoint is None:
            endpoint = endpoints[row[6]] = WebhookEndpoint(
                id=row[6],
                organization_id=organization_id,
                url=row[7],
                enabled=row[8],
                signature_key_encrypted=row[9],
                failing_since=row[10],
                last_success_at=row[11],
                url_changed_at=row[14],
                previous_signature_key_encrypted=row[15],
                key_rotated_at=row[16],
            )
        delivery = WebhookDelivery(
            id=delivery_id,
            endpoint=endpoint,
            organization_id=organization_id,
            body=body,
            attempt_count=attempts,
            window_attempts=window_attempts,
            window_started_at=window_started_at,
            claimed_until=lease,
            created_at=row[12],
            linked_account_uuid=row[13],
            next_attempt_at=row[17],
        )
        claimed[delivery_id] = (delivery, row[18])
    ordered = [claimed[i] for i in delivery_ids if i in claimed]
    attempts_written = []
    for delivery, attempt_id in ordered:
        if attempt_id is not None:
            attempt = WebhookAttempt(
                id=attempt_id, delivery=delivery, number=delivery.attempt_count, started_at=now
            )
            attempt._state.adding, attempt._state.db = False, connection.alias
            attempts_written.append(attempt)
    return [d for d, _ in ordered], attempts_written


def _claim_orm(
    *, delivery_ids: list[uuid.UUID], now: datetime, lease: datetime
) -> tuple[list[WebhookDelivery], list[WebhookAttempt]]:
    deliveries = []
    for delivery_id in delivery_ids:
        updated = (
            WebhookDelivery.objects.filter(
                pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
            )
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(
                claimed_until=lease,
                attempt_count=F("attempt_count") + 1,
                window_attempts=F("window_attempts") + 1,
            )
        )
        if updated:
            deliveries.append(WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id))
    enabled = [d for d in deliveries if d.endpoint.enabled]
    retried = [d.pk for d in enabled if d.attempt_count > 1]
    if retried:
        # An attempt still "in flight" from an earlier claim belonged to a worker that died.
        WebhookAttempt.objects.filter(delivery_id__in=retried, outcome=AttemptOutcome.IN_FLIGHT).update(
            outcome=AttemptOutcome.TRANSIENT, error="The worker stopped during this attempt"
        )
    attempts = WebhookAttempt.objects.bulk_create(
        [WebhookAttempt(delivery=d, number=d.attempt_count, started_at=now) for d in enabled]
    )
    return deliveries, attempts
