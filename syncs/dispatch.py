"""Scheduling and dispatch: when an account is next due, queueing one sync now, the beat tick that
claims due accounts and hands them out in batches, a batch's expansion into one task per
account, and the recovery of runs whose worker vanished."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import LinkedAccount, LinkedAccountStatus, SyncFrequency

from .heartbeat import sync_dispatch_heartbeat_record
from .integrations.base import ErrorClass
from .metrics import dispatch_tick_observe, sync_run_observe
from .models import SyncDispatch, SyncRun, SyncRunStatus, SyncTrigger

logger = logging.getLogger(__name__)

INTERVALS = {
    SyncFrequency.EVERY_5_MINUTES: timedelta(minutes=5),
    SyncFrequency.HOURLY: timedelta(hours=1),
    SyncFrequency.DAILY: timedelta(days=1),
}
IDLE_INTERVAL = timedelta(days=1)
SCHEDULABLE = (LinkedAccountStatus.COMPLETE, LinkedAccountStatus.IDLE)


def sync_next_time(*, account: LinkedAccount, after: datetime) -> datetime | None:
    """When the account's next scheduled sync is due; None for manual-only accounts."""
    frequency = account.sync_frequency or account.organization.default_sync_frequency
    interval = INTERVALS.get(frequency)
    if interval is None:
        return None
    if account.status == LinkedAccountStatus.IDLE:
        interval = max(interval, IDLE_INTERVAL)
    return after + interval


def sync_queue_now(*, account: LinkedAccount, reason: str) -> None:
    """Queue one sync of the account as this transaction commits, whatever its schedule, also
    when RELINK_NEEDED (a forced attempt). Runs never overlap: a run that finds one going
    waits and retries."""
    from .tasks import sync_account

    account_id = str(account.pk)

    def publish() -> None:
        try:
            sync_account.apply_async(
                args=[account_id], kwargs={"trigger": SyncTrigger.FORCED, "reason": reason[:200]}
            )
        except Exception:
            # Broker down: not lost, and not a 500 for the caller. The account is made due now,
            # so the dispatcher runs it as soon as the broker is back.
            logger.warning("could not queue a sync of %s (broker down); made it due instead", account_id)
            LinkedAccount.objects.filter(pk=account_id).update(next_sync_at=timezone.now())

    transaction.on_commit(publish)


def sync_dispatch_due(*, now: datetime | None = None, limit: int | None = None) -> int:
    """One beat tick: claim every due account with one query (a SyncDispatch row per account,
    held until its run finishes or the lease passes, so no dispatcher hands it out twice) and
    hand them out, one message per batch. A finished tick is recorded (its duration, what it
    handed out and left waiting, and the heartbeat /readyz reads)."""
    started = time.monotonic()
    now = now or timezone.now()
    limit = limit or settings.SYNC_DISPATCH_MAX_PER_TICK
    handed_out = _dispatch_due(now=now, limit=limit)
    # Only a tick that hit its cap can have left due accounts behind: count them then.
    backlog = _due_count(now=now) if handed_out >= limit else 0
    dispatch_tick_observe(seconds=time.monotonic() - started, claimed=handed_out, backlog=backlog)
    sync_dispatch_heartbeat_record()
    return handed_out


def _due_count(*, now: datetime) -> int:
    return (
        LinkedAccount.objects.filter(status__in=SCHEDULABLE, next_sync_at__lte=now)
        .exclude(pk__in=SyncDispatch.objects.filter(leased_until__gt=now).values("linked_account_id"))
        .count()
    )


def _dispatch_due(*, now: datetime, limit: int) -> int:
    from .tasks import sync_accounts_batch

    lease_until = now + timedelta(seconds=settings.SYNC_DISPATCH_LEASE_SECONDS)
    ids = _claim_due(now=now, lease_until=lease_until, limit=limit)
    if not ids:
        return 0
    size = settings.SYNC_DISPATCH_BATCH_SIZE
    published = 0
    try:
        with sync_accounts_batch.app.producer_or_acquire() as producer:
            for start in range(0, len(ids), size):
                sync_accounts_batch.apply_async(args=[ids[start : start + size]], producer=producer)
                published = start + size
    except Exception:
        # Broker down: the accounts not handed out are due again at the next tick, not only once
        # their lease has passed.
        sync_dispatch_release(account_ids=ids[published:])
        raise
    return len(ids)


def _claim_due(*, now: datetime, lease_until: datetime, limit: int) -> list[str]:
    """The claim: the due accounts not handed out yet (an index-only scan of the partial `la_due`
    index, in (next_sync_at, id) order), inserted into SyncDispatch; a row whose lease passed
    is taken over. The account rows are not written. Two dispatchers at once insert the same
    ids in the same order: the second waits for the first to commit, then finds the rows
    leased and skips them (the WHERE of DO UPDATE), so each account is handed out once."""
    accounts = LinkedAccount._meta.db_table
    dispatch = SyncDispatch._meta.db_table
    statuses = [str(s) for s in SCHEDULABLE]
    sql = f"""
        WITH due AS (
            SELECT a.id FROM {accounts} a
            WHERE a.status IN (%s, %s) AND a.next_sync_at IS NOT NULL AND a.next_sync_at <= %s
              AND NOT EXISTS (
                  SELECT 1 FROM {dispatch} d WHERE d.linked_account_id = a.id AND d.leased_until > %s
              )
            ORDER BY a.next_sync_at, a.id
            LIMIT %s
        )
        INSERT INTO {dispatch} (linked_account_id, leased_until)
        SELECT id, %s FROM due WHERE true
        ON CONFLICT (linked_account_id) DO UPDATE SET leased_until = excluded.leased_until
        WHERE {dispatch}.leased_until <= %s
        RETURNING linked_account_id
    """  # noqa: S608 - table names from model meta; values are parameters ("WHERE true": SQLite's parser)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [*statuses, now, now, limit, lease_until, now])
        rows = cursor.fetchall()
    return [str(r[0]) if not isinstance(r[0], str) else _uuid_str(r[0]) for r in rows]


def sync_dispatch_release(*, account_ids: list) -> None:
    """The run of a handed-out account is over: the account may be handed out again as soon as
    it is next due."""
    SyncDispatch.objects.filter(linked_account_id__in=account_ids).delete()


def _uuid_str(value: str) -> str:
    # SQLite stores UUIDs as 32 hex characters.
    if len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def sync_batch_expand(*, account_ids: list[str]) -> int:
    """A worker turns one dispatch batch into one sync task per account (parallel across workers)."""
    from .tasks import sync_account

    with sync_account.app.producer_or_acquire() as producer:
        for account_id in account_ids:
            sync_account.apply_async(
                args=[account_id], kwargs={"trigger": SyncTrigger.SCHEDULE}, producer=producer
            )
    return len(account_ids)


def sync_runs_recover_expired(*, now: datetime | None = None) -> int:
    """Fail runs whose worker vanished (lease expired) and make their accounts due again."""
    now = now or timezone.now()
    expired = list(
        SyncRun.objects.filter(status=SyncRunStatus.RUNNING, lease_expires_at__lt=now).values_list(
            "id", "linked_account_id", "integration", "started_at"
        )[:1000]
    )
    recovered = 0
    for run_id, account_id, integration, started_at in expired:
        with transaction.atomic():
            updated = SyncRun.objects.filter(pk=run_id, status=SyncRunStatus.RUNNING).update(
                status=SyncRunStatus.FAILED,
                finished_at=now,
                error_class=ErrorClass.LEASE_EXPIRED,
                error_message="The worker running this sync stopped before finishing it.",
            )
            if updated:
                recovered += 1
                # Due now, also when it had no next time (a manual-only account, or a new
                # account whose first, forced, sync died): the lost run is run again once; its
                # end sets the real next time.
                LinkedAccount.objects.filter(pk=account_id).update(next_sync_at=now)
                sync_dispatch_release(account_ids=[account_id])
        if updated:
            sync_run_observe(
                integration=integration,
                result=SyncRunStatus.FAILED,
                seconds=(now - started_at).total_seconds(),
            )
    return recovered
