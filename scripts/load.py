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

The parts live in scripts/load_drill/ (stack, seed, profile_mix, client, report); this file
reads the options and runs them in order.

The drill is honest about the machine: when fewer than 95% of --rate requests per second were
answered, the run did not measure the target load (a slow server, or a machine busy with other
work: the summary says how much CPU time other processes took) and it does not pass.

Usage: .venv/bin/python scripts/load.py [--rate 200] [--seconds 60] [--warmup 5] [--accounts 40]
Exit code 0 when the target rate was reached, p99 <= --p99-ms (100) and there were no errors,
else 1.
"""

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/relink_load"

from load_drill import seed  # noqa: E402 (after the path above)
from load_drill.client import client_process  # noqa: E402
from load_drill.report import print_report  # noqa: E402
from load_drill.stack import (  # noqa: E402
    Stack,
    cpu_used,
    machine_busy_cpu,
    process_tree_cpu,
    wait_for_port,
)
from webhook_receiver import Receiver  # noqa: E402


def parse_args() -> argparse.Namespace:
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
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    database_url = os.environ.get("LOAD_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_DB
    if not database_url.startswith("postgres"):
        sys.exit("the load drill runs on PostgreSQL: set DATABASE_URL=postgres://…")
    stack = Stack(Path(tempfile.mkdtemp(prefix="relink-load-")))
    try:
        redis_port = stack.start_redis()
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
        seed.recreate_database(database_url)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)

        import django

        django.setup()
        from django.conf import settings

        from syncs.sandbox_provider import serve_in_thread

        sandbox = serve_in_thread(control_token=settings.SANDBOX_CONTROL_TOKEN)
        os.environ["SANDBOX_PROVIDER_URL"] = sandbox.url
        settings.SANDBOX_PROVIDER_URL = sandbox.url
        receiver = Receiver()
        data = seed.seed(accounts=args.accounts, receiver_url=receiver.url)

        env = dict(os.environ)
        web_env = {
            **env,
            "DEBUG": "0",
            "SECRET_KEY": settings.SECRET_KEY,
            "FERNET_KEYS": ",".join(settings.FERNET_KEYS),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
        web, web_port = stack.start_web(web_env, workers=args.web_workers, threads=args.web_threads)
        worker = stack.start_worker(env)
        wait_for_port(web_port, web, "gunicorn")

        seed.wait_for_first_syncs(accounts=args.accounts)
        employee_ids = seed.employee_ids(data["tokens"])
        runs_before = seed.finished_runs()
        deliveries_before = len(receiver.received)
        print(
            f"seeded {args.accounts} accounts with synced employees; load: {args.rate:.0f} req/s for "
            f"{args.warmup:.0f} s of warm-up, then {args.seconds:.0f} s measured"
        )

        measured = (("web", web), ("worker", worker))
        cpu_before = {name: process_tree_cpu(proc.pid) for name, proc in measured}
        main_before = time.process_time()
        machine_before = machine_busy_cpu()
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
        machine = machine_busy_cpu() - machine_before
        cpu = {name: cpu_used(cpu_before[name], process_tree_cpu(proc.pid)) for name, proc in measured}
        ok = print_report(
            result,
            cpu=cpu,
            main_cpu=main_cpu,
            runs=seed.finished_runs() - runs_before,
            deliveries=len(receiver.received) - deliveries_before,
            p99_target=args.p99_ms,
            rate_target=args.rate,
            machine_cpu=machine,
        )
        return 0 if ok else 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
