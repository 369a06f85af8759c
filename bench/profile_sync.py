"""Where one sync's CPU goes: `python -m bench.profile_sync [accounts]` (default 400);
`PROFILE_INTEGRATION=sandbox_ats` (or `sandbox_crm`) profiles another category's sandbox.

Recreates the PostgreSQL database of DATABASE_URL (as `make bench` does; default
`relink_bench`), starts the sandbox provider in its own process (no latency: its CPU is not
ours), seeds HRIS accounts of 200 employees and runs each account's sync in this process,
twice: a first sync (every record created) and a repeat sync (nothing changed). For each
round it prints CPU per sync (this process's `process_time` and its PostgreSQL backend's),
the SQL statements of one sync (`CaptureQueriesContext`), then where the CPU of the same
round went, sampled: the parts of a sync (a part includes what it calls) and the library that
was running (the innermost frame's package).

Sampled rather than cProfile's tracing: cProfile charges every Python call, so it inflated
the many small calls of mapping and normalising about twentyfold (14.8 ms of 108 profiled ms,
0.45 ms in fact) and hid where the time goes (the ORM, psycopg, httpx). A SIGPROF timer every
0.5 ms of CPU costs a few percent. `PROFILE_CPROFILE=40` prints cProfile's top 40 as well.

What runs here is `syncs.runs.sync_run_account`, the body of the Celery task: Celery's own
cost per task (message, acks, the prefork pool) is what the bench's worker CPU shows on top.
Hand-written: no profiler at hand groups samples into the stages of a sync.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (label, path suffix of the function's file, function name): samples with it on the stack.
PARTS = (
    ("the whole sync (sync_run_account)", "syncs/runs.py", "sync_run_account"),
    ("  load the account", "syncs/runs.py", "_account"),
    ("  claim the run", "syncs/run_bookkeeping.py", "run_claim"),
    ("  credentials (decrypt)", "accounts/selectors.py", "linked_account_credentials"),
    ("  fetch: pages, HTTP, JSON, mapping", "syncs/runs.py", "_fetch"),
    ("    HTTP (send, read, classify, log)", "syncs/integrations/base.py", "_send_once"),
    ("    JSON parse", "syncs/integrations/base.py", "parse_json"),
    ("    page digests", "syncs/page_digests.py", "page_digest"),
    ("    map_record", "syncs/integrations/sandbox.py", "map_record"),
    ("    map_record", "syncs/integrations/sandbox_ats.py", "map_record"),
    ("    map_record", "syncs/integrations/sandbox_crm.py", "map_record"),
    ("  finish (one transaction)", "syncs/runs.py", "_finish"),
    ("    lock the account", "syncs/runs.py", "_lock_account"),
    ("    request logs", "syncs/request_logs.py", "request_logs_write"),
    ("    store records", "syncs/storage.py", "synced_records_store"),
    ("      normalise", "syncs/common_models.py", "normalise"),
    ("      canonical JSON + digest", "syncs/storage.py", "_canonical_json"),
    ("      canonical JSON + digest", "syncs/storage.py", "_digest"),
    ("      read stored digests", "syncs/storage.py", "_existing"),
    ("      upsert changed rows", "syncs/storage.py", "_upsert"),
    ("      INSERT new rows (JSON)", "syncs/storage.py", "_insert_json"),
    ("    run bookkeeping", "syncs/run_bookkeeping.py", "run_succeeded"),
    ("    run row update", "django/db/models/query.py", "update"),
    ("    status rule (issues, webhook)", "syncs/status_rule.py", "linked_account_apply_status_rule"),
    ("      resolve issues", "issues/services.py", "issues_resolve_for_account"),
    ("      webhook event", "issues/webhooks/events.py", "webhook_event_emit"),
    ("    dispatch release", "syncs/dispatch.py", "sync_dispatch_release"),
    ("  commit", "django/db/backends/base/base.py", "commit"),
    ("  metrics", "syncs/metrics.py", "sync_run_observe"),
    ("  metrics", "syncs/metrics.py", "provider_requests_observe"),
)
LIBRARIES = ("django", "psycopg", "httpx", "httpcore", "h11", "orjson", "cryptography", "prometheus_client")


class Sampler:
    """Counts, every `interval` seconds of this process's CPU (SIGPROF), which parts are on the
    main thread's stack and which library the innermost frame belongs to."""

    def __init__(self, interval: float = 0.0005):
        self.interval = interval
        self.samples = 0
        self.parts: Counter[str] = Counter()
        self.libraries: Counter[str] = Counter()
        self._index = {(suffix, name): label for label, suffix, name in PARTS}
        self._names = {name for _, _, name in PARTS}

    def _on_signal(self, signum, frame) -> None:
        self.samples += 1
        leaf = frame.f_code.co_filename if frame else ""
        self.libraries[next((lib for lib in LIBRARIES if f"/{lib}/" in leaf), _own(leaf))] += 1
        seen = set()
        while frame is not None:
            code = frame.f_code
            if code.co_name in self._names:
                for (suffix, name), label in self._index.items():
                    if name == code.co_name and code.co_filename.endswith(suffix) and label not in seen:
                        seen.add(label)
                        self.parts[label] += 1
            frame = frame.f_back

    def __enter__(self) -> Sampler:
        signal.signal(signal.SIGPROF, self._on_signal)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        return self

    def __exit__(self, *exc) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)


def _own(filename: str) -> str:
    for app in ("syncs", "accounts", "issues", "outbound", "config"):
        if f"/{app}/" in filename and "site-packages" not in filename:
            return f"relink {app}/"
    return "python stdlib / other"


def _round(label: str, ids: list[str]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.harness import own_cpu_seconds
    from syncs.runs import sync_run_account

    half = len(ids) // 2
    # Unsampled: CPU per sync, and one sync's statements.
    with CaptureQueriesContext(connection) as queries:
        sync_run_account(account_id=ids[0], trigger="schedule")
    python0, database0 = own_cpu_seconds()
    t0 = time.process_time()
    for account_id in ids[1:half]:
        sync_run_account(account_id=account_id, trigger="schedule")
    own = (time.process_time() - t0) * 1000 / (half - 1)
    python1, database1 = own_cpu_seconds()
    print(f"\n== {label}: {half - 1} syncs measured, {len(ids) - half} sampled")
    print(
        f"CPU per sync: Python {own:.1f} ms, PostgreSQL backend {(database1 - database0) * 1000 / (half - 1):.1f} ms;"
        f" {len(queries)} SQL statements in one sync:"
    )
    for query in queries.captured_queries:
        print(f"    {' '.join(query['sql'].split())[:140]}")
    n = len(ids) - half
    if os.environ.get("PROFILE_CPROFILE"):
        profile = cProfile.Profile(time.process_time)
        profile.enable()
    t0 = time.process_time()
    with Sampler() as sampler:
        for account_id in ids[half:]:
            sync_run_account(account_id=account_id, trigger="schedule")
    sampled_ms = (time.process_time() - t0) * 1000 / n
    if os.environ.get("PROFILE_CPROFILE"):
        profile.disable()
    per_sample = sampled_ms / max(sampler.samples, 1)
    print(f"{sampler.samples} samples, {sampled_ms * n:.0f} ms CPU sampled")
    print(f"{'part (CPU on the stack, sampled)':<42} {'ms/sync':>8} {'share':>6}")
    for part in dict.fromkeys(label for label, _, _ in PARTS):
        if sampler.parts[part]:
            print(
                f"{part:<42} {sampler.parts[part] * per_sample:>8.2f} {sampler.parts[part] / sampler.samples:>6.0%}"
            )
    print(f"{'innermost frame in':<42} {'ms/sync':>8} {'share':>6}")
    for library, count in sampler.libraries.most_common():
        print(f"  {library:<40} {count * per_sample:>8.2f} {count / sampler.samples:>6.0%}")
    if os.environ.get("PROFILE_CPROFILE"):
        pstats.Stats(profile).sort_stats("tottime").print_stats(int(os.environ["PROFILE_CPROFILE"]))


def main(argv: list[str]) -> int:
    from bench.__main__ import BENCH_ENV, recreate_database

    accounts = int(argv[0]) if argv else 400
    for key, value in BENCH_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    recreate_database(os.environ["DATABASE_URL"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ["SANDBOX_PROVIDER_URL"] = f"http://127.0.0.1:{port}"
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.services import organization_create
    from bench.scenarios.syncs_throughput import _port_open, _seed, _start, _stop, _wait_for
    from syncs.runs import sync_run_account

    call_command("migrate", verbosity=0)
    (ROOT / ".run").mkdir(exist_ok=True)
    provider = _start(
        [sys.executable, "manage.py", "sandbox_provider"],
        dict(os.environ),
        ROOT / ".run" / "profile-provider.log",
    )
    try:
        _wait_for(lambda: _port_open(port), "the sandbox provider")
        organization, _, _ = organization_create(name="Sync profile")
        category, integration = {"sandbox": ("hris", "sandbox"), "sandbox_ats": ("ats", "sandbox_ats")}.get(
            os.environ.get("PROFILE_INTEGRATION", "sandbox"), ("crm", "sandbox_crm")
        )
        ids = _seed(
            str(organization.id),
            accounts + 5,
            category=category,
            integration=integration,
            provider_url=os.environ["SANDBOX_PROVIDER_URL"],
        )
        # Warm up imports, the connection and the integration's HTTP client on other accounts.
        for account_id in ids[accounts:]:
            sync_run_account(account_id=account_id, trigger="schedule")
        _round(f"first sync ({integration}: 200 records created)", ids[:accounts])
        _round(f"repeat sync ({integration}: 200 records unchanged)", ids[:accounts])
    finally:
        _stop(provider)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
