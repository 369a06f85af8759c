"""10,000 webhook deliveries to a local receiver (signatures checked on every request) through
Redis and 2 Celery worker processes (thread pool, 4 slots each: a send is mostly waiting on the
database and the receiver): deliveries per second, from the workers being ready until the last
delivery is recorded as delivered. BENCH_WEBHOOKS_POOL / _CONCURRENCY / _TOTAL override."""

import os
import subprocess
import time
from pathlib import Path

from django.db import transaction
from django.test import override_settings

from accounts.models import AccountType
from accounts.selectors import linked_account_details
from accounts.services import organization_create
from bench.harness import peak_rss_mb, sandbox_linked_account
from config.worker_process import worker_command
from issues.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from issues.webhooks.endpoints import webhook_endpoint_create
from issues.webhooks.events import webhook_event_emit
from tests.issues.receiver import Receiver

ROOT = Path(__file__).resolve().parent.parent.parent
TOTAL = int(os.environ.get("BENCH_WEBHOOKS_TOTAL", "10000"))
POOL = os.environ.get("BENCH_WEBHOOKS_POOL", "threads")
CONCURRENCY = int(os.environ.get("BENCH_WEBHOOKS_CONCURRENCY", "4"))


def _start_worker(log_path: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env.setdefault("LOG_LEVEL", "WARNING")
    env["OUTBOUND_ALLOW_LOOPBACK"] = "1"  # the receiver is on 127.0.0.1
    log = open(log_path, "w")  # noqa: SIM115
    proc = subprocess.Popen(
        worker_command(  # loglevel WARNING: no log line per task
            f"--pool={POOL}",
            "--without-heartbeat",
            "--queues=webhooks",
            f"--hostname=bench-webhooks-{time.time_ns()}@%h",
            concurrency=CONCURRENCY,
        ),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc


def _wait_ready(celery_app, procs: list, log_paths: list) -> None:
    """Both workers answer a broadcast ping (their logs stay quiet at WARNING)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        if len(celery_app.control.ping(timeout=0.5) or []) >= len(procs):
            return
    raise RuntimeError("workers did not start:\n" + "\n".join(p.read_text()[-1500:] for p in log_paths))


def run(report):
    # The receiver listens on 127.0.0.1, which production settings refuse.
    with override_settings(OUTBOUND_ALLOW_LOOPBACK=True):
        _run(report)


def _run(report):
    from config.celery import app as celery_app

    celery_app.control.purge()
    receiver = Receiver().start()
    organization, _, _ = organization_create(name="Bench webhooks")
    endpoint, key = webhook_endpoint_create(
        organization=organization, url=receiver.url, events=[WebhookEvent.SYNC_COMPLETED]
    )
    receiver.signature_key = key
    account, _ = sandbox_linked_account(
        organization, origin_id="bench-webhooks", account_type=AccountType.PRODUCTION
    )
    details = linked_account_details(account=account)
    # Queue everything first (workers stopped), so the timing is the sending alone.
    for start in range(0, TOTAL, 500):
        with transaction.atomic():
            for n in range(start, min(TOTAL, start + 500)):
                webhook_event_emit(
                    organization=organization,
                    event=WebhookEvent.SYNC_COMPLETED,
                    account_details=details,
                    data={"n": n, "models": ["hris.Employee"]},
                )
    procs = []
    rss = 0.0
    try:
        log_paths = []
        for i in range(2):
            log_path = ROOT / ".run" / f"bench-webhooks-worker-{os.getpid()}-{i}.log"
            log_path.parent.mkdir(exist_ok=True)
            log_paths.append(log_path)
            procs.append(_start_worker(log_path))
        _wait_ready(celery_app, procs, log_paths)
        started = time.perf_counter()
        # The first worker may have started sending before the second answered: only what is
        # delivered after this point counts towards the rate.
        done_at_start = WebhookDelivery.objects.filter(
            endpoint=endpoint, status=DeliveryStatus.SUCCEEDED
        ).count()
        deadline = started + 300
        done = 0
        while time.perf_counter() < deadline:
            done = WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED).count()
            rss = max(rss, peak_rss_mb([p.pid for p in procs]))
            if done >= TOTAL:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.terminate()  # warm shutdown
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
        receiver.stop()
    unique = len(receiver.unique_ids())
    verified = sum(1 for r in receiver.received if r.merge_signature_ok and r.standard_signature_ok)
    note = f"{done} delivered, {unique} unique at the receiver, {verified} verified"
    report.throughput(
        f"webhook deliveries (2 worker processes, {POOL} x{CONCURRENCY}, signed, local receiver)",
        size=f"{TOTAL // 1000}k",
        count=done - done_at_start,
        seconds=elapsed,
        rss_mb=rss,
        target=">= 300/s, all delivered",
        ok=lambda row: done == TOTAL and unique == TOTAL and (row.per_second or 0) >= 300,
        note=note,
    )
