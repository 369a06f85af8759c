"""The consumer of the accounts status-history outbox (accounts.LinkedAccountStatusChange):
each row becomes its LinkedAccount.status_changed / LinkedAccount.deleted deliveries once."""

import logging
from collections.abc import Callable, Iterable

from django.db import transaction
from django.utils import timezone

from accounts.models import HistoryStatus, LinkedAccountStatusChange
from accounts.timefmt import api_datetime

from ..models import WebhookEndpoint, WebhookEvent
from .events import webhook_event_emit

logger = logging.getLogger(__name__)


def status_changes_process(*, change_ids: Iterable[int] | None = None, limit: int = 500) -> int:
    """Turn unprocessed status-history rows into LinkedAccount.status_changed / .deleted
    deliveries. Rows are claimed with skip_locked and marked in the same transaction as the
    deliveries they produce, so each becomes its webhooks exactly once. Creation rows (no
    from-status) produce nothing. Returns how many rows were processed."""
    with transaction.atomic():
        qs = LinkedAccountStatusChange.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            processed_at__isnull=True
        )
        if change_ids is not None:
            qs = qs.filter(pk__in=list(change_ids))
        changes = list(qs.select_related("organization").order_by("id")[:limit])
        if not changes:
            return 0
        processed = []
        for change in changes:
            if change.from_status:
                status_change_emit(change=change)
            processed.append(change.pk)
        LinkedAccountStatusChange.objects.filter(pk__in=processed, processed_at__isnull=True).update(
            processed_at=timezone.now()
        )
    return len(processed)


def status_change_emit(
    *, change: LinkedAccountStatusChange, endpoints: Callable[[], list[WebhookEndpoint]] | None = None
) -> None:
    """One status-history row's LinkedAccount.status_changed / .deleted deliveries. Called by
    `status_changes_process`, or by the service that made the change, in its transaction, when
    it announces the change itself (the row is then written processed; see `accounts.services`)."""
    details = dict(change.account_snapshot) or {"id": str(change.linked_account_uuid)}
    if change.to_status == HistoryStatus.DELETED:
        webhook_event_emit(
            organization=change.organization,
            event=WebhookEvent.DELETED,
            account_details=details,
            data={"reason": change.reason, "deleted_at": api_datetime(change.at)},
            endpoints=endpoints,
        )
        return
    details["status"] = change.to_status
    webhook_event_emit(
        organization=change.organization,
        event=WebhookEvent.STATUS_CHANGED,
        account_details=details,
        data={"from": change.from_status, "to": change.to_status, "reason": change.reason},
        endpoints=endpoints,
    )


def status_change_listener(change_ids: list[int]) -> None:
    """Registered with accounts.outbox: runs after the change commits. Failure here is logged;
    the beat sweep processes whatever is left."""
    try:
        status_changes_process(change_ids=change_ids)
    except Exception:
        logger.exception("status-change outbox: processing %s failed; the sweep will retry", change_ids)
