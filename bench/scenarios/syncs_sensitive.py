"""What encrypting an Employee's ssn and date_of_birth at rest costs a sync (syncs/sensitive.py):
Python CPU per sync of 200 employees, with the sensitive fields and without, first sync (200
created: fingerprint, encrypt, upsert) and repeat sync (200 unchanged: fingerprint only).

In-process: `sync_run_account` against the sandbox provider served in a thread of this process
(its real HTTP on a socket), timed with `time.thread_time()` so the provider's threads are not
counted; "without" serves the same employees minus the two fields. The two variants alternate
within the same run (ROUNDS each), so the machine's load hits both alike; medians reported, and
the PostgreSQL backend's CPU beside them. `SYNCS_SENSITIVE_ROUNDS` (default 25) sets the rounds."""

import os
import statistics
import time

import psutil
from django.conf import settings
from django.db import connection

from accounts.services import linked_account_create, linked_account_mark_complete, organization_create
from syncs import sandbox_provider
from syncs.runs import sync_run_account

ROUNDS = int(os.environ.get("SYNCS_SENSITIVE_ROUNDS", "25"))
WITH = sandbox_provider.EMPLOYEES
WITHOUT = [{k: v for k, v in e.items() if k not in ("ssn", "date_of_birth")} for e in WITH]


def _backend_cpu() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _timed_sync(account_id: str, expect: str) -> tuple[float, float]:
    """(Python CPU ms of this thread, PostgreSQL backend CPU ms) of one forced sync."""
    database0, python0 = _backend_cpu(), time.thread_time()
    run = sync_run_account(account_id=account_id, trigger="forced")
    python1, database1 = time.thread_time(), _backend_cpu()
    assert run.status == "DONE", run.error_message
    counts = (run.records_created, run.records_updated)
    assert counts == ((200, 0) if expect == "first" else (0, 0)), counts
    return (python1 - python0) * 1000, (database1 - database0) * 1000


def run(report):
    running = sandbox_provider.serve_in_thread(control_token=settings.SANDBOX_CONTROL_TOKEN)
    previous_url = settings.SANDBOX_PROVIDER_URL
    settings.SANDBOX_PROVIDER_URL = running.url
    organization, _, _ = organization_create(name="Sensitive fields bench")
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for n in range(ROUNDS + 1):  # the first round warms up (imports, connections, caches)
            for variant, employees in (("with", WITH), ("without", WITHOUT)):
                sandbox_provider.RESOURCES["/v1/employees"] = employees
                account, _ = linked_account_create(
                    organization=organization,
                    category="hris",
                    integration="sandbox",
                    end_user_origin_id=f"sensitive-{variant}-{n}",
                    end_user_organization_name="Bench Co",
                    end_user_email_address="bench@example.com",
                    account_type="PRODUCTION",
                    credentials={"api_key": "sk_sandbox_bench"},
                )
                linked_account_mark_complete(account=account, reason="bench")
                for kind in ("first", "repeat"):
                    result = _timed_sync(str(account.pk), kind)
                    if n:
                        samples.setdefault((variant, kind), []).append(result)
    finally:
        sandbox_provider.RESOURCES["/v1/employees"] = WITH
        settings.SANDBOX_PROVIDER_URL = previous_url
        running.stop()

    def python_ms(variant: str, kind: str) -> float:
        return statistics.median(s[0] for s in samples[(variant, kind)])

    def database_ms(variant: str, kind: str) -> float:
        # A backend's CPU time moves in 10 ms ticks: a mean over the rounds, not a median.
        return statistics.fmean(s[1] for s in samples[(variant, kind)])

    targets = {"first": 1.5, "repeat": 1.2}
    for kind, what in (("first", "200 employees created"), ("repeat", "200 employees unchanged")):
        with_py, without_py = python_ms("with", kind), python_ms("without", kind)
        limit = targets[kind]
        report.throughput(
            f"sync with ssn + date_of_birth encrypted ({kind} sync: {what})",
            size=f"{ROUNDS} syncs per variant, interleaved",
            count=1,
            seconds=0,
            median_ms=with_py,
            target=f"Python CPU <= {limit}x the same sync without them",
            ok=lambda row, with_py=with_py, without_py=without_py, limit=limit: with_py <= without_py * limit,
            note=(
                f"median ms = Python CPU per sync: with {with_py:.1f} ms, without {without_py:.1f} ms "
                f"({with_py - without_py:+.1f} ms, {with_py / without_py:.2f}x); PostgreSQL CPU per "
                f"sync (mean): with {database_ms('with', kind):.1f} ms, without {database_ms('without', kind):.1f} ms"
            ),
        )
