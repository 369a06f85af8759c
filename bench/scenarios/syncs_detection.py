"""Detection: 100 accounts' credentials are revoked at the provider, their syncs are queued at
once (one dispatch tick), and a real Celery worker runs them against the sandbox provider (its
own process). Measured per account, from the moment the syncs are queued: when the API shows
it RELINK_NEEDED (GET /api/hris/v1/linked-accounts?status=RELINK_NEEDED, polled every 50 ms,
in this process) and when a local webhook receiver (a thread of this process) gets its
`Issue.new`."""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psutil
from django.test import Client, override_settings

from accounts.crypto import encrypt_json
from accounts.ids import uuid7
from accounts.services import api_key_create, organization_create
from bench.harness import copy_linked_accounts, percentile
from bench.scenarios.syncs_throughput import (
    ROOT,
    _free_port,
    _make_due,
    _port_open,
    _start,
    _stop,
    _wait_for,
)
from issues.webhooks.endpoints import webhook_endpoint_create
from syncs import dispatch

ACCOUNTS = 100
CONCURRENCY = int(os.environ.get("SYNCS_BENCH_CONCURRENCY", "4"))


class _Receiver(BaseHTTPRequestHandler):
    arrived: dict[str, float] = {}

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        now = time.perf_counter()
        self.send_response(200)
        self.end_headers()
        payload = json.loads(body)
        if payload.get("hook", {}).get("event") == "Issue.new":
            self.arrived.setdefault(str(payload["linked_account"]["id"]), now)

    def log_message(self, *args):
        pass


def _seed(organization_id: str) -> tuple[list[str], list[str]]:
    ids = [str(uuid7()) for _ in range(ACCOUNTS)]
    keys = [f"sk_sandbox_detect_{n}_{os.getpid()}" for n in range(ACCOUNTS)]
    created = "2026-01-01T00:00:00+00:00"
    copy_linked_accounts(
        (
            account_id,
            organization_id,
            "hris",
            "sandbox",
            f"detect-{n}",
            f"Customer {n}",
            f"d{n}@example.com",
            "PRODUCTION",
            "COMPLETE",
            "",
            None,
            created,
            created,
            created,
            f"detect-token-{n}",
            "x",
            encrypt_json({"api_key": keys[n]}),
            "",
            None,
            created,
        )
        for n, account_id in enumerate(ids)
    )
    return ids, keys


def run(report):
    with override_settings(OUTBOUND_ALLOW_LOOPBACK=True):
        _run(report)


def _run(report):
    run_dir = ROOT / ".run"
    run_dir.mkdir(exist_ok=True)
    port = _free_port()
    env = {**os.environ, "SANDBOX_PROVIDER_URL": f"http://127.0.0.1:{port}", "OUTBOUND_ALLOW_LOOPBACK": "1"}
    provider = _start(
        [sys.executable, "manage.py", "sandbox_provider", "--latency-ms", "10"],
        env,
        run_dir / "bench-detect-provider.log",
    )
    worker = _start(
        [
            sys.executable,
            *("-m", "celery", "-A", "config", "worker", "--loglevel=WARNING"),
            f"--concurrency={CONCURRENCY}",
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            f"--hostname=bench-detect-{os.getpid()}@%h",
        ],
        env,
        run_dir / "bench-detect-worker.log",
    )
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        _wait_for(lambda: _port_open(port), "the sandbox provider")
        _wait_for(lambda: len(psutil.Process(worker.pid).children()) >= CONCURRENCY, "the worker", timeout=60)
        organization, _, _ = organization_create(name="Detection bench")
        webhook_endpoint_create(
            organization=organization,
            url=f"http://127.0.0.1:{receiver.server_port}/hook",
            events=["Issue.new"],
        )
        _, api_key = api_key_create(organization=organization, environment="PRODUCTION", name="bench")
        ids, keys = _seed(str(organization.id))
        for key in keys:
            httpx.post(
                f"http://127.0.0.1:{port}/control/revoke",
                json={"api_key": key},
                headers={"X-Sandbox-Control": env.get("SANDBOX_CONTROL_TOKEN", _control_token())},
            ).raise_for_status()
        client = Client()
        url = "/api/hris/v1/linked-accounts?status=RELINK_NEEDED&page_size=100"
        visible: dict[str, float] = {}
        _make_due(ids)
        t0 = time.perf_counter()
        assert dispatch.sync_dispatch_due() == ACCOUNTS
        deadline = time.monotonic() + 120
        while (len(visible) < ACCOUNTS or len(_Receiver.arrived) < ACCOUNTS) and time.monotonic() < deadline:
            response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {api_key}")
            now = time.perf_counter()
            for item in response.json()["results"]:
                visible.setdefault(item["id"], now)
            time.sleep(0.05)
        size = f"{ACCOUNTS} accounts at once, {CONCURRENCY} worker processes"
        for scenario, seen in (
            ("detection: revoked -> RELINK_NEEDED in the API", visible),
            ("detection: revoked -> Issue.new at the webhook receiver", _Receiver.arrived),
        ):
            latencies = [(seen[i] - t0) * 1000 for i in ids if i in seen]
            missing = ACCOUNTS - len(latencies)
            report.throughput(
                scenario,
                size=size,
                count=len(latencies),
                seconds=max(latencies) / 1000 if latencies else 0,
                median_ms=percentile(latencies, 50) if latencies else None,
                p99_ms=percentile(latencies, 99) if latencies else None,
                target="p99 <= 1 s, all",
                ok=lambda row, missing=missing: (
                    missing == 0 and row.p99_ms is not None and row.p99_ms <= 1000
                ),
                note=f"from the dispatch tick; {missing} never seen in 120 s; API polled every 50 ms",
            )
    finally:
        receiver.shutdown()
        _stop(worker)
        _stop(provider)


def _control_token() -> str:
    from django.conf import settings

    return settings.SANDBOX_CONTROL_TOKEN
