"""Load drill: 200 requests/s of mixed API reads for 60 s against gunicorn + PostgreSQL while
syncs and webhook deliveries run, then stop by itself and print p50/p99/errors.

It brings up everything on 127.0.0.1 and takes it down again: a private Redis on a free port,
the sandbox provider and a webhook receiver (threads of this process), gunicorn, and a Celery
worker with beat. The database (DATABASE_URL, PostgreSQL; default the local server's
`relink_load`) is dropped and created afresh and seeded with one organization, 4 test API keys
and 40 sandbox accounts, so that the default rate limits (600/min per account, 6000/min per
key) hold. During the run, resyncs are asked at 1/s (not counted in the read latencies), so
syncs and their `LinkedAccount.sync_completed` deliveries go on all along.

Requests are open-loop: request i is due at start + i/rate, and its latency is measured from
that due time (a stalled server cannot hide its queueing). At most --concurrency are in flight.
The same load runs for --warmup seconds first, unmeasured but checked for errors, as traffic
reaches a server that has been up for a while (each process imports its views and opens its
connections on its first requests); a queue it leaves behind counts against the measured part.

The summary also gives the CPU time the gunicorn processes used per request served (utime +
stime from /proc), the figure to compare between versions on a busy machine.

Usage: .venv/bin/python scripts/load.py [--rate 200] [--seconds 60] [--warmup 5] [--accounts 40]
Exit code 0 when p99 <= --p99-ms (100) and there were no errors, else 1.
"""

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/relink_load"

from local_redis import free_port  # noqa: E402 (after the path above)


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"{what} exited early")
            time.sleep(0.1)
    sys.exit(f"{what} did not start in {timeout} s")


def process_tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds (utime + stime) of `root` and its descendants, by pid, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ")".
        fields = raw[raw.rindex(")") + 2 :].split()
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    tree, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        if pid in stats:
            tree[pid] = stats[pid][1]
            frontier.extend(child for child, (ppid, _) in stats.items() if ppid == pid)
    return tree


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two snapshots; a process gone by `after` is not counted, a new one counts whole."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def recreate_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Receiver:
    """Webhook receiver: counts deliveries by event."""

    def __init__(self):
        self.events: Counter = Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                import json

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.events[json.loads(body)["hook"]["event"]] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


def seed(*, accounts: int, receiver_url: str) -> dict:
    from django.utils import timezone

    from accounts.models import AccountType, LinkedAccount
    from accounts.services import (
        api_key_create,
        linked_account_create,
        linked_account_mark_complete,
        organization_create,
    )
    from issues.webhooks.endpoints import webhook_endpoint_create

    organization, _, test_key = organization_create(name="Load drill")
    keys = [test_key] + [
        api_key_create(organization=organization, environment=AccountType.TEST)[1] for _ in range(3)
    ]
    tokens = []
    for i in range(accounts):
        account, token = linked_account_create(
            organization=organization,
            category="hris",
            integration="sandbox",
            end_user_origin_id=f"load-{i}",
            end_user_organization_name=f"Load {i} Inc",
            end_user_email_address=f"load-{i}@example.com",
            account_type=AccountType.TEST,
            credentials={"api_key": f"sk_sandbox_load_{i}"},
        )
        linked_account_mark_complete(account=account, reason="Load drill")
        tokens.append((str(account.pk), token))
    LinkedAccount.objects.filter(organization=organization).update(next_sync_at=timezone.now())
    webhook_endpoint_create(organization=organization, url=receiver_url)
    return {"organization": organization, "keys": keys, "tokens": tokens}


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


class HttpError(Exception):
    """The connection failed or the answer was not HTTP/1.1 as expected."""


class Connection:
    """One keep-alive HTTP/1.1 connection: a request is a few bytes out and a parsed status line,
    headers and body in. Lean on purpose: the client shares the machine's cores with the server,
    and a general-purpose client (httpx) spent more CPU per request than the server did."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.reader is not None and self.reader.at_eof():
            self.close()  # the server closed it while idle: not an error, open another
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Content-Length: 0"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        try:
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            fields = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    fields[name.strip().lower()] = value.strip()
            if "content-length" in fields:
                body = await self.reader.readexactly(int(fields["content-length"]))
            elif fields.get("transfer-encoding", "").lower() == "chunked":
                body = await self._chunked()
            else:
                raise HttpError("an answer with neither Content-Length nor chunked encoding")
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
            IndexError,
        ) as exc:
            self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, body

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_load(
    *,
    host: str,
    port: int,
    keys: list[str],
    tokens: list[tuple[str, str]],
    employee_ids: dict,
    rate: float,
    seconds: float,
    concurrency: int,
    warmup: float = 0.0,
) -> dict:
    mix = [
        ("account-details", 25),
        ("employees", 25),
        ("linked-accounts", 20),
        ("sync-status", 15),
        ("issues", 10),
        ("employee", 5),
    ]
    names = [n for n, _ in mix]
    weights = [w for _, w in mix]
    rng = random.Random(7)
    latencies: dict[str, list[float]] = {n: [] for n in names}
    statuses: Counter = Counter()
    errors: list[str] = []
    resyncs: Counter = Counter()
    # At most `concurrency` requests in flight, each on a keep-alive connection of its own.
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(concurrency):
        pool.put_nowait(Connection(host, port))

    async def send(method: str, path: str, headers: dict[str, str]) -> int | str:
        connection = await pool.get()
        try:
            status, _ = await connection.request(method, path, headers)
            return status
        except HttpError as exc:
            return str(exc)
        finally:
            pool.put_nowait(connection)

    async def one(due: float, kind: str, index: int, measured: bool):
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        account_index = index % len(tokens)
        account_id, token = tokens[account_index]
        headers = {
            "Authorization": f"Bearer {keys[account_index % len(keys)]}",
            "X-Account-Token": token,
        }
        path = {
            "account-details": "/api/hris/v1/account-details",
            "employees": "/api/hris/v1/employees?page_size=50",
            "linked-accounts": "/api/hris/v1/linked-accounts?page_size=50",
            "sync-status": "/api/hris/v1/sync-status",
            "issues": "/api/hris/v1/issues?page_size=50",
            "employee": f"/api/hris/v1/employees/{employee_ids.get(account_id, account_id)}",
        }[kind]
        code = await send("GET", path, headers)
        if measured:
            latencies[kind].append((time.perf_counter() - due) * 1000)
        statuses[code] += 1
        if code != 200:
            errors.append(f"{kind}: {code}")

    async def resync_loop(until: float):
        i = 0
        while time.perf_counter() < until:
            _, token = tokens[i % len(tokens)]
            headers = {"Authorization": f"Bearer {keys[0]}", "X-Account-Token": token}
            resyncs[await send("POST", "/api/hris/v1/sync-status/resync", headers)] += 1
            i += 1
            await asyncio.sleep(1)

    # The warm-up runs the same load first, unmeasured (each gunicorn process's first requests
    # import the views and open its connections); its errors still count.
    begin = time.perf_counter() + 0.2
    start = begin + warmup
    total = int(rate * (warmup + seconds))
    resync_task = asyncio.create_task(resync_loop(start + seconds))
    tasks = []
    for i in range(total):
        due = begin + i / rate
        # Create tasks just ahead of time so memory stays flat.
        while due - time.perf_counter() > 0.5:
            await asyncio.sleep(0.1)
        tasks.append(asyncio.create_task(one(due, rng.choices(names, weights)[0], i, due >= start)))
    await asyncio.gather(*tasks)
    await resync_task
    wall = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    every = [x for values in latencies.values() for x in values]
    return {
        "requests": len(every),
        "wall": wall,
        "latencies": latencies,
        "all": every,
        "statuses": statuses,
        "errors": errors,
        "resyncs": resyncs,
    }


def client_process(**kwargs) -> dict:
    """The load client, in a process of its own: the sandbox provider and webhook receiver
    threads of the main process must not hold up its event loop (that would count as server
    latency). Returns the results and the CPU time the client used."""
    started = time.process_time()
    result = asyncio.run(run_load(**kwargs))
    result["client_cpu"] = time.process_time() - started
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--warmup", type=float, default=5, help="seconds of the same load first, not measured (default 5)"
    )
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--web-workers", type=int, help="gunicorn processes (default: config/gunicorn.conf.py's)"
    )
    parser.add_argument(
        "--web-threads", type=int, help="threads per gunicorn process (default: the config's)"
    )
    parser.add_argument("--p99-ms", type=float, default=100)
    args = parser.parse_args()

    database_url = os.environ.get("LOAD_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_DB
    if not database_url.startswith("postgres"):
        sys.exit("the load drill runs on PostgreSQL: set DATABASE_URL=postgres://…")
    work = Path(tempfile.mkdtemp(prefix="relink-load-"))
    procs: list[subprocess.Popen] = []

    def stop_all():
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)

    try:
        redis_port = free_port()
        from local_redis import redis_server_command

        redis = subprocess.Popen(
            redis_server_command(redis_port, work),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs.append(redis)
        wait_for_port(redis_port, redis, "redis-server")

        os.environ.update(
            DATABASE_URL=database_url,
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            DEBUG="1",  # local secrets; the web server itself runs with DEBUG off below
            DJANGO_SETTINGS_MODULE="config.settings",
            SYNC_DISPATCH_INTERVAL_SECONDS="2",
            WEBHOOK_SWEEP_INTERVAL_SECONDS="5",
            LOG_LEVEL="WARNING",
        )
        print(f"database {database_url} (recreated), redis on port {redis_port}")
        recreate_database(database_url)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)

        import django

        django.setup()
        from django.conf import settings

        from config.worker_process import worker_command
        from syncs.sandbox_provider import serve_in_thread

        sandbox = serve_in_thread(control_token=settings.SANDBOX_CONTROL_TOKEN)
        os.environ["SANDBOX_PROVIDER_URL"] = sandbox.url
        settings.SANDBOX_PROVIDER_URL = sandbox.url
        receiver = Receiver()
        data = seed(accounts=args.accounts, receiver_url=receiver.url)

        env = dict(os.environ)
        web_port = free_port()
        web_env = {
            **env,
            "DEBUG": "0",
            "SECRET_KEY": settings.SECRET_KEY,
            "FERNET_KEYS": ",".join(settings.FERNET_KEYS),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                # The settings `make run` and the Procfile use (workers, threads, keep-alive).
                "-c",
                "config/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{web_port}",
                "--log-level",
                "warning",
                *(["--workers", str(args.web_workers)] if args.web_workers else []),
                *(["--threads", str(args.web_threads)] if args.web_threads else []),
            ],
            cwd=ROOT,
            env=web_env,
            start_new_session=True,
        )
        procs.append(web)
        worker = subprocess.Popen(
            worker_command("--beat", f"--schedule={work / 'beat'}", concurrency=2),
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        procs.append(worker)
        wait_for_port(web_port, web, "gunicorn")

        from syncs.models import Employee, SyncRun, SyncRunStatus

        deadline = time.monotonic() + 120
        while (
            SyncRun.objects.filter(status=SyncRunStatus.DONE).values("linked_account").distinct().count()
            < args.accounts
        ):
            if time.monotonic() > deadline:
                sys.exit("the first syncs did not finish in 120 s")
            time.sleep(1)
        employee_ids = {}
        for account_id, _ in data["tokens"]:
            employee = Employee.objects.filter(linked_account_id=account_id).only("id").first()
            employee_ids[account_id] = str(employee.id) if employee else account_id
        runs_before = SyncRun.objects.filter(status=SyncRunStatus.DONE).count()
        deliveries_before = sum(receiver.events.values())
        print(
            f"seeded {args.accounts} accounts with synced employees; load: {args.rate:.0f} req/s for "
            f"{args.warmup:.0f} s of warm-up, then {args.seconds:.0f} s measured"
        )

        cpu_before = {name: process_tree_cpu(proc.pid) for name, proc in (("web", web), ("worker", worker))}
        main_before = time.process_time()
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            result = pool.submit(
                client_process,
                host="127.0.0.1",
                port=web_port,
                keys=data["keys"],
                tokens=data["tokens"],
                employee_ids=employee_ids,
                rate=args.rate,
                seconds=args.seconds,
                concurrency=args.concurrency,
                warmup=args.warmup,
            ).result()
        main_cpu = time.process_time() - main_before
        cpu = {
            name: cpu_used(cpu_before[name], process_tree_cpu(proc.pid))
            for name, proc in (("web", web), ("worker", worker))
        }
        runs = SyncRun.objects.filter(status=SyncRunStatus.DONE).count() - runs_before
        deliveries = sum(receiver.events.values()) - deliveries_before
        samples = result["all"]
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        print()
        print(f"{'endpoint':<18}{'n':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for kind, values in result["latencies"].items():
            if values:
                print(
                    f"{kind:<18}{len(values):>7}{percentile(values, 50):>9.1f}{percentile(values, 99):>9.1f}{max(values):>9.1f}"
                )
        print(f"{'all':<18}{len(samples):>7}{p50:>9.1f}{p99:>9.1f}{max(samples):>9.1f}")
        print()
        print(
            f"achieved {len(samples) / result['wall']:.1f} req/s over {result['wall']:.1f} s; "
            f"mean {statistics.fmean(samples):.1f} ms"
        )
        print(f"statuses: {dict(result['statuses'])}; errors: {len(result['errors'])}")
        served = sum(result["statuses"].values()) + sum(result["resyncs"].values())  # warm-up too
        print(
            f"CPU: gunicorn {cpu['web']:.1f} s = {cpu['web'] / served * 1000:.2f} ms per request served; "
            f"celery worker+beat {cpu['worker']:.1f} s; load client {result['client_cpu']:.1f} s; "
            f"sandbox provider and webhook receiver {main_cpu:.1f} s; over {result['wall']:.1f} s "
            f"on {os.cpu_count()} CPUs"
        )
        print(
            f"during the run: {runs} syncs finished, {deliveries} webhooks delivered, resyncs {dict(result['resyncs'])}"
        )
        ok = p99 <= args.p99_ms and not result["errors"]
        print(f"target p99 <= {args.p99_ms:.0f} ms and no errors: {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
