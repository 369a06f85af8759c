"""OAuth refreshes per second through the real path: 1,000 accounts whose access tokens all
expired in the same minute, two credential checks queued per account (so two worker processes
want each account's refresh at once), a Celery worker (prefork, its own processes) refreshing
single-flight under the row lock against the sandbox OAuth server (its own process, rotating
single-use refresh tokens, counting reuse) -> PostgreSQL.

Reports refreshes/s and CPU per refresh (worker processes and PostgreSQL backends), and fails
when any refresh token was sent twice or any account did not rotate exactly once.
``OAUTH_BENCH_ACCOUNTS`` sets the size (a quick check: 50)."""

import base64
import hashlib
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil
from django.conf import settings

from accounts.crypto import encrypt_json
from accounts.ids import uuid7
from accounts.services import organization_create
from bench.harness import LINKED_ACCOUNT_COLUMNS, copy_linked_accounts, linked_account_row, peak_rss_mb
from bench.scenarios.syncs_throughput import (
    ROOT,
    _cpu_seconds,
    _cpu_used,
    _database_backends,
    _free_port,
    _port_open,
    _start,
    _stop,
    _wait_for,
)
from config.worker_process import worker_command
from syncs.models import OAuthToken
from syncs.tasks import validate_account_credentials

ACCOUNTS = int(os.environ.get("OAUTH_BENCH_ACCOUNTS", "1000"))
CONCURRENCY = int(os.environ.get("OAUTH_BENCH_CONCURRENCY", "4"))
TARGET_PER_SECOND = 50


def _grant(client: httpx.Client, base: str) -> dict:
    """One real grant from the sandbox OAuth server: consent ("Allow") + code exchange."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1/link/oauth/callback"
    consent = client.post(
        f"{base}/oauth/authorize",
        data={
            "client_id": "sandbox_oauth",
            "redirect_uri": redirect,
            "response_type": "code",
            "state": "bench",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": ["employees:read"],
            "decision": "allow",
        },
    )
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    tokens = client.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": "sandbox_oauth",
            "code_verifier": verifier,
        },
    ).json()
    # Expired a moment ago, all in the same minute.
    return {**tokens, "expires_at": time.time() - 5, "grant_expires_at": None}


def _seed(org_id: str, base: str) -> list[str]:
    ids = [str(uuid7()) for _ in range(ACCOUNTS)]
    created = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    with httpx.Client(timeout=10) as client:
        grants = [_grant(client, base) for _ in ids]

    def row(n: int, account_id: str, grant: dict) -> tuple:
        seed = linked_account_row(
            n=n,
            organization_id=org_id,
            origin_id=f"oauth-{n}",
            status="COMPLETE",
            created=created,
            token_hash=f"oauth-bench-token-{n}",
            token_encrypted="x",
            account_id=account_id,
        )
        columns = dict(zip(LINKED_ACCOUNT_COLUMNS, seed, strict=True)) | {
            "integration": "sandbox_oauth",
            "end_user_email_address": f"o{n}@example.com",
            "credentials_encrypted": encrypt_json(grant),
            "sync_frequency": "manual",
        }
        return tuple(columns.values())

    copy_linked_accounts(row(n, *pair) for n, pair in enumerate(zip(ids, grants, strict=True)))
    return ids


def _stats(base: str) -> dict:
    return httpx.post(
        f"{base}/control/oauth/stats", json={}, headers={"X-Sandbox-Control": settings.SANDBOX_CONTROL_TOKEN}
    ).json()


def run(report) -> None:
    run_dir = ROOT / ".run"
    run_dir.mkdir(exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, SANDBOX_PROVIDER_URL=base)
    settings.SANDBOX_PROVIDER_URL = base
    provider = _start(
        [sys.executable, "manage.py", "sandbox_provider"], env, run_dir / "bench-oauth-provider.log"
    )
    worker = _start(
        worker_command(
            "--queues=syncs",
            "--without-heartbeat",
            f"--hostname=bench-oauth-{os.getpid()}@%h",
            concurrency=CONCURRENCY,
        ),
        env,
        run_dir / "bench-oauth-worker.log",
    )
    try:
        _wait_for(lambda: _port_open(port), "the sandbox provider")
        _wait_for(lambda: len(psutil.Process(worker.pid).children()) >= CONCURRENCY, "the worker", timeout=60)
        organization, _, _ = organization_create(name="OAuth refresh bench")
        ids = _seed(str(organization.id), base)
        worker_cpu, database_cpu = _cpu_seconds([worker.pid]), _cpu_seconds(_database_backends())
        worker_latest, database_latest = dict(worker_cpu), dict(database_cpu)
        t0 = time.perf_counter()
        with validate_account_credentials.app.producer_or_acquire() as producer:
            for _ in range(2):
                for account_id in ids:
                    validate_account_credentials.apply_async(args=[account_id], producer=producer)
        deadline = time.monotonic() + 600
        peak = 0.0
        while OAuthToken.objects.filter(generation__gte=1).count() < len(ids):
            if time.monotonic() > deadline:
                raise RuntimeError("not every account was refreshed in 600 s")
            peak = max(peak, peak_rss_mb([worker.pid]))
            worker_latest.update(_cpu_seconds([worker.pid]))
            database_latest.update(_cpu_seconds(_database_backends()))
            time.sleep(0.2)
        seconds = time.perf_counter() - t0
        worker_latest.update(_cpu_seconds([worker.pid]))
        database_latest.update(_cpu_seconds(_database_backends()))
        stats = _stats(base)
        twice = OAuthToken.objects.filter(generation__gt=1).count()
        worker_ms = _cpu_used(worker_cpu, worker_latest) * 1000 / len(ids)
        database_ms = _cpu_used(database_cpu, database_latest) * 1000 / len(ids)
        note = (
            f"{CONCURRENCY} prefork processes, 2 checks per account; refresh tokens reused: "
            f"{stats['reuse_count']}; accounts refreshed more than once: {twice}; CPU per refresh "
            f"(incl. the check's data call): worker {worker_ms:.1f} ms, PostgreSQL {database_ms:.1f} ms"
        )
        report.throughput(
            "OAuth refreshes (access tokens expired in the same minute)",
            size=f"{len(ids)} accounts, single-flight row lock",
            count=len(ids),
            seconds=seconds,
            rss_mb=peak,
            target=f">= {TARGET_PER_SECOND}/s, 0 reuse",
            ok=lambda row: row.per_second >= TARGET_PER_SECOND and stats["reuse_count"] == 0 and twice == 0,
            note=note,
        )
    finally:
        _stop(worker)
        _stop(provider)
