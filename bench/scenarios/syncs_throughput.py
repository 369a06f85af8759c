"""Account syncs per second through the real path: dispatch tick -> Redis -> Celery worker
(prefork, its own processes) -> the sandbox provider (its own process, 10 ms latency per
request, 200 employees per account) -> PostgreSQL. Then request-log writes per second.

Two rounds over the same accounts: the first creates 200 employees per account, the second
finds nothing changed. The worker's RSS (all its processes) is sampled after a warm-up and
after the rounds: it must stay flat across thousands of syncs.

Then the other categories through the same path: a first sync of 200 candidates (sandbox_ats)
and of 200 contacts (sandbox_crm) per account, in rounds of rotating order beside HRIS first
syncs of the same rounds. Their worker CPU per sync must stay within
1.2x of those HRIS syncs' (the common-model registry stores every model through the same
upsert). `SYNCS_BENCH_ACCOUNTS` (default 2000) and `SYNCS_BENCH_CATEGORY_ACCOUNTS` (default
500) shrink a run for a quick comparison."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.crypto import encrypt_json
from accounts.ids import uuid7
from accounts.services import organization_create
from bench.harness import copy_linked_accounts, own_cpu_seconds, peak_rss_mb
from config.worker_process import worker_command
from syncs import dispatch, integrations, request_logs
from syncs.integrations.base import LoggedRequest
from syncs.models import RequestLog, SyncRun

ROOT = Path(__file__).resolve().parent.parent.parent
ACCOUNTS = int(os.environ.get("SYNCS_BENCH_ACCOUNTS", "2000"))
CATEGORY_ACCOUNTS = int(os.environ.get("SYNCS_BENCH_CATEGORY_ACCOUNTS", "500"))
WARMUP = min(200, ACCOUNTS // 10 or 1)
# (category, integration, what one first sync creates)
OTHER_CATEGORIES = (("ats", "sandbox_ats", "200 candidates"), ("crm", "sandbox_crm", "200 contacts"))
# The categories are compared in rounds of rotating order (HRIS, ATS, CRM; then ATS, CRM, HRIS; ...)
# with HRIS first syncs of the same rounds: the worker's CPU per sync drifts up over a run, so a
# ratio to the HRIS row measured minutes earlier would favour HRIS.
COMPARED = (("hris", "sandbox", "200 employees"), *OTHER_CATEGORIES)
CATEGORY_ROUNDS = 3
# The Procfile's worker (WORKER_CONCURRENCY, 4 by default): what a deployment runs.
CONCURRENCY = int(os.environ.get("SYNCS_BENCH_CONCURRENCY", "4"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sandbox_credentials(integration: str, provider_url: str) -> dict:
    """What a linked account of this sandbox integration holds: an API key, or for one that
    authorizes through the sandbox OAuth server a real grant (headless consent and code
    exchange against the bench's provider; its tokens are signed, so every account may share it)."""
    found = integrations.get(integration)
    if not hasattr(found, "headless_consent"):
        return {"api_key": "sk_sandbox_bench"}
    from syncs.services_oauth import oauth_authorization_url, oauth_exchange_code, oauth_headless_consent

    previous = settings.SANDBOX_PROVIDER_URL
    settings.SANDBOX_PROVIDER_URL = provider_url
    try:
        redirect_uri = "http://127.0.0.1/link/oauth/callback"
        verifier = "bench-" + "v" * 60
        url = oauth_authorization_url(
            integration=integration, redirect_uri=redirect_uri, state="bench", code_verifier=verifier
        )
        answer = oauth_headless_consent(integration=integration, authorization_url=url)
        return oauth_exchange_code(
            integration=integration, code=answer["code"], code_verifier=verifier, redirect_uri=redirect_uri
        )
    finally:
        settings.SANDBOX_PROVIDER_URL = previous


def _seed(
    org_id: str,
    count: int,
    *,
    category: str = "hris",
    integration: str = "sandbox",
    provider_url: str = "",
    batch: str = "",
) -> list[str]:
    credentials = encrypt_json(_sandbox_credentials(integration, provider_url))
    ids = [str(uuid7()) for _ in range(count)]
    created = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    rows = (
        (
            account_id,
            org_id,
            category,
            integration,
            f"throughput-{category}-{batch}{n}",
            f"Customer {n}",
            f"t{n}@example.com",
            "PRODUCTION",
            "COMPLETE",
            "",
            None,
            created,
            created,
            created,
            f"throughput-token-{category}-{batch}{n}",
            "x",
            credentials,
            "",
            None,
            timezone.now().isoformat(),
        )
        for n, account_id in enumerate(ids)
    )
    copy_linked_accounts(rows)
    return ids


def _make_due(ids: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_linkedaccount SET next_sync_at = %s WHERE id = ANY(%s::uuid[])",
            [timezone.now() - timedelta(seconds=1), ids],
        )


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU so far of processes and their children, by pid (live processes only)."""
    seconds = {}
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = p.cpu_times()
                    seconds[p.pid] = times.user + times.system
    return seconds


def _cpu_used(before: dict[int, float], latest: dict[int, float]) -> float:
    """CPU used since `before`, from the latest sample of each process: one that started since
    counts from zero, one that ended counts up to its last sample (connections past
    CONN_MAX_AGE are closed, so the backends change during a round)."""
    return sum(value - before.get(pid, 0.0) for pid, value in latest.items())


def _database_backends() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def _finished() -> int:
    return SyncRun.objects.exclude(status="RUNNING").count()


@dataclass
class Round:
    seconds: float
    peak_rss_mb: float
    worker_cpu_ms: float  # per sync: the worker's processes
    database_cpu_ms: float  # per sync: the PostgreSQL backends serving the bench database

    def cpu_note(self) -> str:
        return f"CPU per sync: worker {self.worker_cpu_ms:.1f} ms, PostgreSQL {self.database_cpu_ms:.1f} ms"


def _round(ids: list[str], expect_total: int, worker_pid: int, timeout: float = 600) -> Round:
    """Dispatch the accounts and wait for every run."""
    _make_due(ids)
    worker_cpu, database_cpu = _cpu_seconds([worker_pid]), _cpu_seconds(_database_backends())
    worker_latest, database_latest = dict(worker_cpu), dict(database_cpu)
    t0 = time.perf_counter()
    assert dispatch.sync_dispatch_due() == len(ids)
    peak = 0.0
    deadline = time.monotonic() + timeout
    sampled = 0.0
    while _finished() < expect_total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {_finished()} of {expect_total} runs finished in {timeout} s")
        peak = max(peak, peak_rss_mb([worker_pid]))
        if time.monotonic() - sampled >= 0.5:
            worker_latest.update(_cpu_seconds([worker_pid]))
            database_latest.update(_cpu_seconds(_database_backends()))
            sampled = time.monotonic()
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    worker_latest.update(_cpu_seconds([worker_pid]))
    database_latest.update(_cpu_seconds(_database_backends()))
    return Round(
        seconds=seconds,
        peak_rss_mb=peak,
        worker_cpu_ms=_cpu_used(worker_cpu, worker_latest) * 1000 / len(ids),
        database_cpu_ms=_cpu_used(database_cpu, database_latest) * 1000 / len(ids),
    )


def _pooled(rounds: list[tuple[list[str], Round]]) -> Round:
    """One category's rounds as one: the seconds added up, CPU per sync weighted by accounts."""
    count = sum(len(ids) for ids, _ in rounds)
    return Round(
        seconds=sum(r.seconds for _, r in rounds),
        peak_rss_mb=max(r.peak_rss_mb for _, r in rounds),
        worker_cpu_ms=sum(r.worker_cpu_ms * len(ids) for ids, r in rounds) / count,
        database_cpu_ms=sum(r.database_cpu_ms * len(ids) for ids, r in rounds) / count,
    )


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up in {timeout} s")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _sync_throughput(report) -> None:
    run_dir = ROOT / ".run"
    run_dir.mkdir(exist_ok=True)
    port = _free_port()
    env = dict(os.environ)
    env["SANDBOX_PROVIDER_URL"] = f"http://127.0.0.1:{port}"
    provider = _start(
        [sys.executable, "manage.py", "sandbox_provider", "--latency-ms", "10"],
        env,
        run_dir / "bench-sandbox-provider.log",
    )
    worker_log = run_dir / "bench-syncs-worker.log"
    worker = _start(
        worker_command(
            "--without-heartbeat", f"--hostname=bench-syncs-{os.getpid()}@%h", concurrency=CONCURRENCY
        ),
        env,
        worker_log,
    )
    try:
        _wait_for(lambda: _port_open(port), "the sandbox provider")
        _wait_for(lambda: len(psutil.Process(worker.pid).children()) >= CONCURRENCY, "the worker", timeout=60)
        time.sleep(2)
        organization, _, _ = organization_create(name="Sync throughput bench")
        # Accounts sync through the settings of this process too (dispatch lease, batches).
        ids = _seed(str(organization.id), WARMUP + ACCOUNTS)
        warm, rest = ids[:WARMUP], ids[WARMUP:]
        _round(warm, WARMUP, worker.pid)
        rss_before = peak_rss_mb([worker.pid])
        first = _round(rest, WARMUP + ACCOUNTS, worker.pid)
        second = _round(ids, 2 * WARMUP + 2 * ACCOUNTS, worker.pid)
        rss_after = peak_rss_mb([worker.pid])
        failed = SyncRun.objects.exclude(status="DONE").count()
        note = (
            f"{CONCURRENCY} prefork processes; worker RSS {rss_before:.0f} MB after warm-up, "
            f"{rss_after:.0f} MB after {2 * len(ids)} syncs; "
            f"{failed} runs not DONE; {first.cpu_note()}"
        )
        flat = rss_after <= rss_before * 1.15 + 10
        report.throughput(
            "account syncs (first sync: 200 employees created)",
            size=f"{ACCOUNTS} accounts, 10 ms provider latency",
            count=ACCOUNTS,
            seconds=first.seconds,
            rss_mb=max(first.peak_rss_mb, second.peak_rss_mb),
            target=">= 50/s, RSS flat",
            ok=lambda row: row.per_second >= 50 and failed == 0 and flat,
            note=note,
        )
        report.throughput(
            "account syncs (repeat sync: 200 employees unchanged)",
            size=f"{len(ids)} accounts, 10 ms provider latency",
            count=len(ids),
            seconds=second.seconds,
            rss_mb=second.peak_rss_mb,
            target=">= 50/s",
            ok=lambda row: row.per_second >= 50 and failed == 0,
            note=second.cpu_note(),
        )
        total = 2 * WARMUP + 2 * ACCOUNTS
        per_round = max(1, CATEGORY_ACCOUNTS // CATEGORY_ROUNDS)
        rounds: dict[str, list[tuple[list[str], Round]]] = {category: [] for category, _, _ in COMPARED}
        for n in range(CATEGORY_ROUNDS):
            for category, integration, _ in COMPARED[n % 3 :] + COMPARED[: n % 3]:
                category_ids = _seed(
                    str(organization.id),
                    per_round,
                    category=category,
                    integration=integration,
                    provider_url=env["SANDBOX_PROVIDER_URL"],
                    batch=f"r{n}-",
                )
                total += per_round
                rounds[category].append((category_ids, _round(category_ids, total, worker.pid)))
        hris = _pooled(rounds["hris"])
        for category, _, created in COMPARED[1:]:
            other = _pooled(rounds[category])
            category_ids = [i for ids, _ in rounds[category] for i in ids]
            not_done = (
                SyncRun.objects.filter(linked_account_id__in=category_ids).exclude(status="DONE").count()
            )
            ratio = other.worker_cpu_ms / hris.worker_cpu_ms if hris.worker_cpu_ms else 0.0
            report.throughput(
                f"account syncs (first sync: {created} created)",
                size=f"{len(category_ids)} {category} accounts, 10 ms provider latency",
                count=len(category_ids),
                seconds=other.seconds,
                rss_mb=other.peak_rss_mb,
                target="worker CPU/sync <= 1.2x the HRIS first sync",
                ok=lambda row, ratio=ratio, not_done=not_done: ratio <= 1.2 and not_done == 0,
                note=(
                    f"{other.cpu_note()}; {ratio:.2f}x the worker CPU of {len(category_ids)} HRIS first "
                    f"syncs in the same {CATEGORY_ROUNDS} rounds ({hris.worker_cpu_ms:.1f} ms); "
                    f"{not_done} runs not DONE"
                ),
            )
    finally:
        _stop(worker)
        _stop(provider)


def _request_log_writes(report) -> None:
    """request_logs_write against a bare COPY of the same rows (no ORM, one write_row per row),
    interleaved in the same run so the machine's load hits both alike."""
    now = datetime.now(UTC)
    entries = [
        LoggedRequest(
            method="GET",
            url=f"https://api.example.com/v1/employees?cursor={i}&limit=100",
            started_at=now,
            duration_ms=12,
            status_code=200,
        )
        for i in range(10_000)
    ]

    def ours():
        request_logs.request_logs_write(entries=entries, integration="sandbox")

    def bare_copy():
        request_logs.request_logs_copy(
            (None, None, None, "sandbox", e.method, e.url, e.status_code, e.duration_ms, "", e.started_at)
            for e in entries
        )

    timings: dict[str, list[float]] = {"ours": [], "copy": []}
    cpu: dict[str, float] = {"ours": 0.0, "copy": 0.0}
    for _ in range(7):
        for name, fn in (("ours", ours), ("copy", bare_copy)):
            cpu0 = sum(own_cpu_seconds())
            t0 = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - t0)
            cpu[name] += sum(own_cpu_seconds()) - cpu0
    ours_s, copy_s = (sorted(timings[k])[len(timings[k]) // 2] for k in ("ours", "copy"))
    ratio = copy_s / ours_s
    report.throughput(
        "request-log writes (bulk, per run)",
        size="10k rows per write",
        count=len(entries),
        seconds=ours_s,
        target=">= 0.8x COPY on the same run",
        ok=lambda row: ratio >= 0.8,
        note=(
            f"bare COPY {len(entries) / copy_s:,.0f} rows/s; ratio {ratio:.2f} (medians of 7, interleaved); "
            f"CPU per 1k rows (Python + PostgreSQL): ours {cpu['ours'] / 70 * 1000:.1f} ms, "
            f"COPY {cpu['copy'] / 70 * 1000:.1f} ms; {RequestLog.objects.count()} rows written"
        ),
    )


def run(report):
    _request_log_writes(report)
    _sync_throughput(report)
