"""Request logs: every outbound request of a sync run or credential check, written in bulk, and
pruned past retention."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import LinkedAccount

from . import request_log_partitions
from .integrations.base import LoggedRequest
from .models import RequestLog, SyncRun

# From this many rows, COPY beats one multi-row INSERT on PostgreSQL.
COPY_THRESHOLD = 200
# A request log row as both write paths take it: these columns, in this order.
COLUMNS = (
    "linked_account_id",
    "sync_run_id",
    "organization_id",
    "integration",
    "method",
    "url",
    "status_code",
    "duration_ms",
    "error_class",
    "created_at",
)


def request_logs_copy(rows: Iterable[tuple]) -> None:
    """COPY rows (tuples in COLUMNS order) into the request log: PostgreSQL only."""
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {RequestLog._meta.db_table} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def request_logs_write(
    *,
    entries: Iterable[LoggedRequest],
    integration: str,
    account: LinkedAccount | None = None,
    run: SyncRun | None = None,
) -> int:
    """Bulk-write request logs: one INSERT for a run's few rows, COPY on PostgreSQL for many."""
    entries = list(entries)
    if not entries:
        return 0
    account_id = account.pk if account else None
    organization_id = account.organization_id if account else None
    run_id = run.pk if run else None
    rows = [
        (
            account_id,
            run_id,
            organization_id,
            integration,
            e.method,
            e.url,
            e.status_code,
            e.duration_ms,
            e.error_class,
            e.started_at,
        )
        for e in entries
    ]
    if connection.vendor == "postgresql" and len(rows) >= COPY_THRESHOLD:
        request_logs_copy(rows)
    else:
        RequestLog.objects.bulk_create(
            [RequestLog(**dict(zip(COLUMNS, row, strict=True))) for row in rows], batch_size=2000
        )
    return len(entries)


def request_logs_prune(*, older_than_days: int | None = None, batch_size: int = 10_000) -> int:
    """Delete request logs past retention: on PostgreSQL whole days at once (their partitions
    are dropped; next week's are made), then the rest in batches (short locks, bounded
    transactions)."""
    days = settings.REQUEST_LOG_RETENTION_DAYS if older_than_days is None else older_than_days
    now = timezone.now()
    cutoff = now - timedelta(days=days)
    total = 0
    if request_log_partitions.request_log_partitioned():
        total += request_log_partitions.request_log_partitions_maintain(cutoff=cutoff, today=now.date())
    while True:
        ids = list(
            RequestLog.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return total
        total += RequestLog.objects.filter(id__in=ids).delete()[0]


def request_log_blame_last(*, session, error_class: str) -> None:
    """An answer that arrived fine but was unusable (HTML, bad JSON, wrong shape) is a failed
    request too: the Relink Needed rule counts it."""
    if session.log and not session.log[-1].error_class:
        session.log[-1].error_class = error_class
