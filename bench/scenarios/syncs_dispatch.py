"""One dispatch tick (claim due accounts + publish batches to the real Redis) over 100,000
linked accounts of which 10,000 are due, then over 1,000,000 with the same 10,000 due.

Checks besides the time: a constant number of queries per tick, and exactly the due accounts
handed out, each once (read back from the Redis queue)."""

import base64
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.crypto import encrypt_str
from accounts.ids import uuid7
from accounts.services import organization_create
from bench.harness import copy_linked_accounts, linked_account_row
from syncs import dispatch
from syncs.models import SyncDispatch

DUE = 10_000
ROUNDS = 5
# Where the dispatcher's batch messages go (settings.CELERY_TASK_ROUTES).
QUEUE = settings.CELERY_TASK_ROUTES["syncs.sync_accounts_batch"]["queue"]


def _seed(org_id: str, start: int, count: int, *, due_ids: list[str] | None, far: datetime) -> None:
    encrypted = encrypt_str("bench")
    statuses = ("COMPLETE", "COMPLETE", "COMPLETE", "IDLE", "RELINK_NEEDED", "INCOMPLETE")
    created = datetime(2026, 1, 1, tzinfo=UTC).isoformat()

    def rows():
        for n in range(start, start + count):
            account_id = str(uuid7())
            due = due_ids is not None and len(due_ids) < DUE
            if due:
                due_ids.append(account_id)
                status = "COMPLETE" if n % 10 else "IDLE"
                next_at = "2026-01-01T00:00:00+00:00"
            else:
                status = statuses[n % len(statuses)]
                # Not due: scheduled later (the partial index holds them), or manual (NULL).
                next_at = None if n % 7 == 0 else (far + timedelta(seconds=n)).isoformat()
            yield linked_account_row(
                n=n,
                account_id=account_id,
                organization_id=org_id,
                origin_id=f"dispatch-{n}",
                status=status,
                created=created,
                token_hash=f"dispatch-token-{n}",
                token_encrypted=encrypted,
                next_sync_at=next_at,
            )

    copy_linked_accounts(rows())
    # What autovacuum does to a production table after a bulk load (statistics, hint bits, the
    # visibility map); without it, autovacuum starts in the middle of a measured round.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) accounts_linkedaccount")


def _queued_ids(r: redis.Redis) -> tuple[int, list[str]]:
    messages = r.lrange(QUEUE, 0, -1)
    ids = []
    for raw in messages:
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids += args[0]
    return len(messages), ids


def _make_due_again(due_ids: list[str]) -> None:
    """As if the last tick's runs had finished (each frees its account) and come due again."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SyncDispatch._meta.db_table} WHERE linked_account_id = ANY(%s::uuid[])",  # noqa: S608
            [due_ids],
        )
        cursor.execute(
            "UPDATE accounts_linkedaccount SET next_sync_at = %s WHERE id = ANY(%s::uuid[])",
            [datetime(2026, 1, 1, tzinfo=UTC), due_ids],
        )


def _measure(r: redis.Redis, due_ids: list[str]) -> tuple[list[float], int, bool, str]:
    timings, queries, exact, note = [], None, True, ""
    for _ in range(ROUNDS):
        r.delete(QUEUE)
        _make_due_again(due_ids)
        with CaptureQueriesContext(connection) as captured:
            t0 = time.perf_counter()
            handed = dispatch.sync_dispatch_due(now=timezone.now())
            timings.append((time.perf_counter() - t0) * 1000)
        count = len(captured.captured_queries)
        if queries is None:
            queries = count
        elif queries != count:
            exact, note = False, f"query count varied: {queries} vs {count}"
        messages, ids = _queued_ids(r)
        if handed != DUE or len(ids) != DUE or set(ids) != set(due_ids) or len(set(ids)) != DUE:
            exact, note = False, f"handed {handed}, queued {len(ids)} ids ({len(set(ids))} unique)"
        # A second tick right after finds nothing (each due account handed out once).
        if dispatch.sync_dispatch_due(now=timezone.now()) != 0:
            exact, note = False, "a second tick handed out accounts again"
    r.delete(QUEUE)
    return (
        timings,
        queries or 0,
        exact,
        note or f"{queries} queries/tick, {messages} messages, each due id once",
    )


def run(report):
    r = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    organization, _, _ = organization_create(name="Dispatch bench")
    far = timezone.now() + timedelta(days=1)
    due_ids: list[str] = []

    def tick_row(size: str, target: str, limit_ms: float, baseline_ms: float | None = None) -> float:
        """Measures the tick at the seeded size and reports its row; its median in ms."""
        timings, _, exact, note = _measure(r, due_ids)
        median = statistics.median(timings)
        report.throughput(
            "dispatch tick (claim + publish)",
            size=size,
            count=DUE,
            seconds=median / 1000,
            median_ms=median,
            p99_ms=max(timings),
            target=target,
            ok=lambda row: row.median_ms <= limit_ms and exact,
            note=f"{median / baseline_ms:.2f}x; {note}" if baseline_ms else note,
        )
        return median

    _seed(str(organization.id), 0, 100_000, due_ids=due_ids, far=far)
    base = tick_row("100k accounts, 10k due", "<= 1000 ms, constant queries, each due once", 1000)
    _seed(str(organization.id), 100_000, 900_000, due_ids=None, far=far)
    tick_row("1M accounts, 10k due", f"<= 1.5x of 100k ({1.5 * base:.0f} ms)", 1.5 * base, baseline_ms=base)
