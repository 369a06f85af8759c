"""Real processes for the fault drills: a PRIVATE redis-server on a free port (never the shared
one), gunicorn serving the test database, Celery worker + beat (tests/conftest.WorkerProcess),
the sandbox provider and a webhook receiver on sockets."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from django.db import connection

from scripts.local_redis import free_port, ping, redis_server_command
from scripts.webhook_receiver import Receiver
from tests.conftest import ROOT, WorkerProcess, database_url_for_tests, stop_process_group


class PrivateRedis:
    """redis-server on its own port with an append-only file (fsync always), like a production
    Redis: stopping it loses connections, restarting it keeps the queued messages."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="relink-faults-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.proc = subprocess.Popen(
            redis_server_command(self.port, self.dir, "--appendonly", "yes", "--appendfsync", "always"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if ping(self.port):
                return self
            time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class WebServer:
    """gunicorn serving config.wsgi against the test database, on a free port."""

    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.env = env
        self.log_path = ROOT / ".run" / f"gunicorn-{os.getpid()}-{time.time_ns()}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "WebServer":
        self.log_path.parent.mkdir(exist_ok=True)
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                # The Procfile's configuration (its access-log masking included), as in production.
                "-c",
                "config/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.log_path.read_text()[-3000:])
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        stop_process_group(self.proc)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text()


# Short limits and fast sweeps so that every drill finishes in well under a minute or two.
FAULT_ENV = {
    "SYNC_DISPATCH_INTERVAL_SECONDS": "1",
    "SYNC_RECOVER_INTERVAL_SECONDS": "2",
    "SYNC_TASK_SOFT_TIME_LIMIT": "20",
    "SYNC_TASK_TIME_LIMIT": "25",
    "SYNC_RUN_LEASE_SECONDS": "12",
    "SYNC_DISPATCH_LEASE_SECONDS": "30",
    "WEBHOOK_SWEEP_INTERVAL_SECONDS": "2",
    "WEBHOOK_REQUEUE_AFTER_SECONDS": "5",
    "WEBHOOK_RETRY_BASE_SECONDS": "1",
    "CONN_MAX_AGE": "60",
}


class Stack:
    """Everything a drill runs: private Redis, gunicorn and a worker with beat."""

    def __init__(self, *, monkeypatch, settings, extra_env: dict[str, str] | None = None):
        self.redis = PrivateRedis().start()
        env = {**FAULT_ENV, **(extra_env or {}), "REDIS_URL": self.redis.url}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # This process queues tasks too (on-commit sends of test setup): to the private Redis.
        from config.celery import app

        self._celery_app = app
        self._old_broker = app.conf.broker_url
        # The shared pools stay open and are put back afterwards: kombu keeps a process-wide
        # registry of producer pools, and a closed one would break every later test.
        self._old_pools = (app._pool, app.amqp._producer_pool)
        settings.REDIS_URL = self.redis.url
        settings.CELERY_BROKER_URL = self.redis.url
        self._point_celery_at(self.redis.url)
        self.web: WebServer | None = None
        self.workers: list[WorkerProcess] = []

    def process_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
        env["DATABASE_URL"] = database_url_for_tests()
        env["DEBUG"] = "1"
        return env

    def start_web(self) -> WebServer:
        self.web = WebServer(self.process_env()).start()
        return self.web

    def start_worker(self, *, beat: bool = True, concurrency: int = 2) -> WorkerProcess:
        worker = WorkerProcess(concurrency=concurrency, beat=beat).start()
        self.workers.append(worker)
        return worker

    def logs(self) -> str:
        parts = [w.output() for w in self.workers]
        if self.web:
            parts.append(self.web.output())
        return "\n".join(parts)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.web:
            self.web.stop()
        self.redis.cleanup()
        app = self._celery_app
        app.conf.broker_url = self._old_broker
        app._pool, app.amqp._producer_pool = self._old_pools

    def _point_celery_at(self, url: str) -> None:
        # New pools for the private broker, or publishes go to the shared one.
        app = self._celery_app
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def stack_factory(transactional_db, monkeypatch, settings):
    if connection.vendor != "postgresql":
        pytest.skip("fault drills run against PostgreSQL")
    stacks: list[Stack] = []

    def make(**kwargs) -> Stack:
        stack = Stack(monkeypatch=monkeypatch, settings=settings, **kwargs)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.close()
