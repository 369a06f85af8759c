"""Shared fixtures: organizations with keys (owner / outsider), API clients, linked accounts,
and a real Celery worker process against the test database."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import AccountType
from accounts.services import linked_account_create, linked_account_mark_complete, organization_create
from config.worker_process import worker_command

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Tenant:
    organization: object
    production_key: str
    test_key: str

    def client(self, *, test: bool = False, account_token: str | None = None) -> APIClient:
        client = APIClient()
        key = self.test_key if test else self.production_key
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
        if account_token:
            headers["HTTP_X_ACCOUNT_TOKEN"] = account_token
        client.credentials(**headers)
        return client

    def linked_account(
        self,
        *,
        origin_id: str = "origin-1",
        account_type: str = AccountType.PRODUCTION,
        category: str = "hris",
        integration: str = "sandbox",
        complete: bool = True,
        credentials: dict | None = None,
        name: str | None = None,
    ):
        account, token = linked_account_create(
            organization=self.organization,
            category=category,
            integration=integration,
            end_user_origin_id=origin_id,
            end_user_organization_name=f"{origin_id} Inc" if name is None else name,
            end_user_email_address=f"{origin_id}@example.com",
            account_type=account_type,
            credentials=credentials or {"api_key": f"sk_sandbox_{origin_id}"},
        )
        if complete:
            linked_account_mark_complete(account=account, reason="Linked in test")
        return account, token


def _tenant(name: str) -> Tenant:
    organization, production_key, test_key = organization_create(name=name)
    return Tenant(organization, production_key, test_key)


@pytest.fixture
def owner(db) -> Tenant:
    return _tenant("Owner Org")


@pytest.fixture
def outsider(db) -> Tenant:
    return _tenant("Outsider Org")


def database_url_for_tests() -> str:
    """The URL of the test database this pytest run uses, for subprocesses (workers, servers)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def stop_process_group(proc: subprocess.Popen, *, timeout: float = 20) -> None:
    """Stop a subprocess started in its own session, and its children: SIGTERM, then SIGKILL
    after `timeout` seconds."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class WorkerProcess:
    """`celery -A config worker` in a subprocess, with the test database and Redis."""

    def __init__(self, *, concurrency: int = 2, queues: str | None = None, beat: bool = False):
        self.concurrency = concurrency
        self.queues = queues
        self.beat = beat
        self.proc: subprocess.Popen | None = None
        self.log_path = ROOT / ".run" / f"worker-{os.getpid()}-{time.time_ns()}.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DATABASE_URL"] = database_url_for_tests()
        env.pop("PYTEST_VERSION", None)
        env["DEBUG"] = "1"
        return env

    def start(self) -> "WorkerProcess":
        self.log_path.parent.mkdir(exist_ok=True)
        cmd = worker_command(
            "--without-heartbeat",
            f"--hostname=test-{time.time_ns()}@%h",
            concurrency=self.concurrency,
            loglevel="INFO",
        )
        if self.queues:
            cmd.append(f"--queues={self.queues}")
        if self.beat:
            cmd += ["--beat", f"--schedule={self.log_path.with_suffix('.beat')}"]
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env(), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "ready." in self.log_path.read_text():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready in 30 s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc:
            stop_process_group(self.proc)
        if getattr(self, "log", None):
            self.log.close()

    def output(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real worker consuming from the real Redis (REDIS_URL) against the test database."""
    worker = WorkerProcess()
    yield worker
    worker.stop()


def wait_until(predicate, *, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1 (tests/issues/receiver.py) that records what it is sent."""
    from tests.issues.receiver import Receiver

    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def sandbox_provider(settings, monkeypatch):
    """The sandbox HRIS provider on a real socket (127.0.0.1, a free port), in a thread.
    settings.SANDBOX_PROVIDER_URL points at it, and so does the environment of any worker
    process started afterwards."""
    from syncs.sandbox_provider import serve_in_thread

    running = serve_in_thread(control_token=settings.SANDBOX_CONTROL_TOKEN, slow_seconds=1.0)
    settings.SANDBOX_PROVIDER_URL = running.url
    monkeypatch.setenv("SANDBOX_PROVIDER_URL", running.url)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _fresh_credential_check_caps():
    """Every test submits link forms from 127.0.0.1: start each with the per-address and per-token
    credential-check counters (linking/attempt_limits.py) at zero, as a new visitor would."""
    import redis as redis_lib
    from django.conf import settings as django_settings

    try:
        client = redis_lib.Redis.from_url(django_settings.REDIS_URL, socket_connect_timeout=0.5)
        keys = list(client.scan_iter(match="relink:rl:link-*", count=1000))
        if keys:
            client.delete(*keys)
    except redis_lib.RedisError:
        pass  # no Redis: the caps fail open anyway


def pytest_sessionfinish(session, exitstatus):
    """The Prometheus multi-process directory config/settings.py made for this run goes with it."""
    import shutil

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if Path(path).name == f"prometheus-test-{os.getpid()}":
        shutil.rmtree(path, ignore_errors=True)
