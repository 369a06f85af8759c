"""The benchmark harness behind `make bench`.

A scenario is a module bench/scenarios/<name>.py with `def run(report: Report) -> None`.
It seeds what it needs (the database is fresh and migrated, PostgreSQL), then records rows:

    report.latency("GET /account-details", size="100k accounts", fn=call, n=300, p99_max_ms=15)
    report.throughput("webhook deliveries", size="10k", count=10_000, seconds=elapsed,
                      rss_mb=peak_worker_rss, target=">= 300/s", ok=lambda row: row.per_second >= 300)

`target` is the row's goal in words and `ok` its check; `p99_max_ms=15` says both for the usual
latency goal, a p99 ceiling.

`rss_mb` defaults to this process's peak RSS; pass the peak of the web/worker processes a
scenario starts (see `peak_rss_mb`). Helpers for seeding: `bulk_copy` (PostgreSQL COPY).
"""

import contextlib
import io
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psutil

from accounts.ids import uuid7


@dataclass
class Row:
    scenario: str
    size: str
    median_ms: float | None = None
    p99_ms: float | None = None
    per_second: float | None = None
    rss_mb: float | None = None
    target: str = ""
    passed: bool | None = None
    note: str = ""


def self_rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1_048_576


def peak_rss_mb(pids: Iterable[int]) -> float:
    """Current RSS of processes and their children (sample it during and after a run)."""
    total = 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            total += proc.memory_info().rss
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += child.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 1_048_576


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    current: str = ""

    def latency(
        self,
        scenario: str,
        *,
        size: str,
        fn: Callable[[], object],
        n: int = 200,
        warmup: int = 10,
        target: str = "",
        ok: Callable[[Row], bool] | None = None,
        note: str = "",
        p99_max_ms: float | None = None,
    ) -> Row:
        """`p99_max_ms`: the usual target, a p99 ceiling (its `target` text and `ok` check)."""
        if p99_max_ms is not None:
            target = f"p99 <= {p99_max_ms:g} ms"
            ok = lambda row: row.p99_ms <= p99_max_ms  # noqa: E731
        for _ in range(warmup):
            fn()
        samples = []
        started = time.perf_counter()
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
        row = Row(
            scenario=scenario,
            size=size,
            median_ms=statistics.median(samples),
            p99_ms=percentile(samples, 99),
            per_second=n / elapsed,
            rss_mb=self_rss_mb(),
            target=target,
            note=note,
        )
        return self._add(row, ok)

    def throughput(
        self,
        scenario: str,
        *,
        size: str,
        count: int,
        seconds: float,
        rss_mb: float | None = None,
        median_ms: float | None = None,
        p99_ms: float | None = None,
        target: str = "",
        ok: Callable[[Row], bool] | None = None,
        note: str = "",
    ) -> Row:
        row = Row(
            scenario=scenario,
            size=size,
            median_ms=median_ms,
            p99_ms=p99_ms,
            per_second=count / seconds if seconds else None,
            rss_mb=rss_mb if rss_mb is not None else self_rss_mb(),
            target=target,
            note=note,
        )
        return self._add(row, ok)

    def _add(self, row: Row, ok: Callable[[Row], bool] | None) -> Row:
        if ok is not None:
            row.passed = bool(ok(row))
        self.rows.append(row)
        print(f"  {format_row(row)}", flush=True)
        return row

    def error(self, scenario: str, message: str) -> None:
        self.rows.append(Row(scenario=scenario, size="-", passed=False, note=f"ERROR: {message}"))

    def table(self) -> str:
        head = "| scenario | size | median ms | p99 ms | throughput /s | peak RSS MB | target | ok | note |"
        sep = "|---|---|---:|---:|---:|---:|---|---|---|"
        return "\n".join([head, sep, *(format_row(r) for r in self.rows)])


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def format_row(row: Row) -> str:
    ok = "" if row.passed is None else ("yes" if row.passed else "NO")
    return (
        f"| {row.scenario} | {row.size} | {_num(row.median_ms)} | {_num(row.p99_ms)} | {_num(row.per_second, 0)} "
        f"| {_num(row.rss_mb, 0)} | {row.target} | {ok} | {row.note} |"
    )


def sandbox_linked_account(
    organization, *, origin_id: str, account_type: str, credentials: dict | None = None
):
    """A new (INCOMPLETE) HRIS account of the sandbox made through the accounts service, named
    after `origin_id`; returns (account, account token)."""
    from accounts.services import linked_account_create

    return linked_account_create(
        organization=organization,
        category="hris",
        integration="sandbox",
        end_user_origin_id=origin_id,
        end_user_organization_name=f"{origin_id} Inc",
        end_user_email_address=f"{origin_id}@example.com",
        account_type=account_type,
        credentials=credentials,
    )


def plain_static_files():
    """Settings for a scenario that renders pages: production serves hashed static names from
    `collectstatic`'s manifest; the bench has no collected files, and the {% static %} lookup
    costs the same either way."""
    from django.conf import settings
    from django.test import override_settings

    return override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )


def linked_account_row(
    *,
    n: int,
    organization_id: object,
    origin_id: str,
    status: str,
    created: str,
    token_hash: str,
    token_encrypted: str,
    account_id: object = None,
    account_type: str = "PRODUCTION",
    name: str | None = None,
    next_sync_at: str | None = None,
) -> tuple:
    """A seed row (LINKED_ACCOUNT_COLUMNS order) of the scenarios' n-th customer: an HRIS account
    of the sandbox, c{n}@example.com, completed, created and updated at `created` (ISO)."""
    return (
        str(account_id or uuid7()),
        str(organization_id),
        "hris",
        "sandbox",
        origin_id,
        name or f"Customer {n}",
        f"c{n}@example.com",
        account_type,
        status,
        "",
        None,
        created,
        created,
        created,
        token_hash,
        token_encrypted,
        "",
        "",
        next_sync_at,
        None,
    )


def bulk_copy(table: str, columns: list[str], rows: Iterable[tuple]) -> int:
    """Fast seeding with PostgreSQL COPY. Values are written with str(); None becomes NULL."""
    from django.db import connection

    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


# accounts_linkedaccount's columns in the order the scenarios' seed rows give them.
LINKED_ACCOUNT_COLUMNS = [
    "id", "organization_id", "category", "integration", "end_user_origin_id", "end_user_organization_name",
    "end_user_email_address", "account_type", "status", "webhook_listener_url", "is_duplicate", "completed_at",
    "created_at", "updated_at", "account_token_hash", "account_token_encrypted", "credentials_encrypted",
    "sync_frequency", "next_sync_at", "last_inbound_at",
]  # fmt: skip


def copy_linked_accounts(rows: Iterable[tuple]) -> int:
    """COPY linked-account rows (tuples in LINKED_ACCOUNT_COLUMNS order). Columns added since, whose
    model default is not a database default, are filled in here (`status_detail`: empty)."""
    return bulk_copy(
        "accounts_linkedaccount",
        [*LINKED_ACCOUNT_COLUMNS, "status_detail"],
        (tuple(row) + ("",) for row in rows),
    )


def own_cpu_seconds() -> tuple[float, float]:
    """CPU so far (user + system) of this process and of its PostgreSQL backend: CPU per unit of
    work holds on a busy machine where wall-clock latency does not."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    backend = psutil.Process(pid).cpu_times()
    this = psutil.Process().cpu_times()
    return this.user + this.system, backend.user + backend.system


@contextlib.contextmanager
def cpu_note(calls: int, into: list[str]):
    """Appends "CPU per call: Python x ms, PostgreSQL y ms" for the `calls` made inside."""
    python0, database0 = own_cpu_seconds()
    yield
    python1, database1 = own_cpu_seconds()
    into.append(
        f"CPU per call: Python {(python1 - python0) * 1000 / calls:.1f} ms, "
        f"PostgreSQL {(database1 - database0) * 1000 / calls:.1f} ms"
    )


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


__all__ = [
    "LINKED_ACCOUNT_COLUMNS",
    "Report",
    "Row",
    "bulk_copy",
    "copy_linked_accounts",
    "cpu_note",
    "linked_account_row",
    "own_cpu_seconds",
    "peak_rss_mb",
    "plain_static_files",
    "percentile",
    "sandbox_linked_account",
    "self_rss_mb",
    "timed",
    "io",
]
