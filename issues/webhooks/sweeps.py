"""Redelivery, the re-queue sweep (deliveries whose send task went missing) and pruning."""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from . import account_tokens
from .queue import queue_sends, queue_sends_on_commit


def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (same body and webhook-id, so receivers can drop duplicates),
    with a fresh retry window. Refused while it is being sent, and for an event carrying an
    account token when the endpoint's URL changed after the event (webhooks.account_tokens)."""
    now = timezone.now()
    if account_tokens.carries_account_token(delivery.body) and account_tokens.url_changed_since(
        url_changed_at=delivery.endpoint.url_changed_at, created_at=delivery.created_at
    ):
        raise ValidationError(account_tokens.URL_CHANGED_ERROR, code="url_changed")
    with transaction.atomic():
        updated = (
            WebhookDelivery.objects.filter(pk=delivery.pk)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                queued_at=now,
                window_started_at=now,
                window_attempts=0,
                claimed_until=None,
            )
        )
        if not updated:
            raise ValidationError("This delivery is being sent right now; try again in a moment.")
        queue_sends_on_commit([str(delivery.pk)])
    delivery.refresh_from_db()
    return delivery


def webhook_deliveries_requeue_due(*, limit: int = 1000) -> int:
    """The sweep: due, unclaimed deliveries whose send task is missing (never queued, lost with
    a broker or worker restart) are queued again. Returns how many."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_REQUEUE_AFTER_SECONDS)
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=stale))
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    # Mark them queued first (conditionally), so two sweeps never queue the same rows twice.
    claimed = []
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        with transaction.atomic():
            rows = list(
                WebhookDelivery.objects.select_for_update(skip_locked=True)
                .filter(pk__in=chunk, status=DeliveryStatus.PENDING)
                .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=stale))
                .values_list("id", flat=True)
            )
            WebhookDelivery.objects.filter(pk__in=rows).update(queued_at=now)
        claimed += rows
    queue_sends([str(i) for i in claimed])
    return len(claimed)


def _uuid7_floor(at: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of that millisecond: ids below it were made earlier (a primary-key
    range instead of a scan on created_at)."""
    ms = int(at.timestamp() * 1000)
    return uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62))


def webhook_deliveries_prune(*, older_than_days: int | None = None, batch_size: int = 5000) -> int:
    """Forget finished deliveries (and their attempts) older than WEBHOOK_DELIVERY_RETENTION_DAYS;
    pending ones are kept whatever their age. Returns how many were deleted."""
    days = settings.WEBHOOK_DELIVERY_RETENTION_DAYS if older_than_days is None else older_than_days
    boundary = _uuid7_floor(timezone.now() - timedelta(days=days))
    deleted = 0
    while True:
        ids = list(
            WebhookDelivery.objects.filter(pk__lt=boundary)
            .exclude(status=DeliveryStatus.PENDING)
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        WebhookAttempt.objects.filter(delivery_id__in=ids).delete()
        WebhookDelivery.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
