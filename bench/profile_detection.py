"""Profile of the detection path in one process: N failing syncs (revoked sandbox keys) run one
after another through `sync_run_account`, with what the worker does after each commit (the
status-history listener) and the `Issue.new` delivery to a local receiver (Celery tasks run
eagerly, in this process). Prints CPU per sync (this process and its PostgreSQL backend), SQL
statements and commits per sync, and the cProfile of the runs (cumulative, top entries).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relink_bench_<name> \\
        .venv/bin/python -m bench.profile_detection [syncs, default 50] [--sort tottime] [--sql]

Drops and recreates the database like `python -m bench` does (PostgreSQL only)."""

import cProfile
import io
import os
import pstats
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.__main__ import BENCH_ENV, recreate_database


class _Receiver(BaseHTTPRequestHandler):
    count = 0

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()
        type(self).count += 1

    def log_message(self, *args):
        pass


def main(argv: list[str]) -> None:
    count = int(argv[0]) if argv and argv[0].isdigit() else 50
    sort = argv[argv.index("--sort") + 1] if "--sort" in argv else "cumulative"
    for key, value in BENCH_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["OUTBOUND_ALLOW_LOOPBACK"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    recreate_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from accounts.crypto import encrypt_json
    from accounts.ids import uuid7
    from accounts.models import LinkedAccount, LinkedAccountStatus
    from accounts.services import organization_create
    from bench.harness import copy_linked_accounts, own_cpu_seconds
    from config.celery import app
    from issues.webhooks.endpoints import webhook_endpoint_create
    from syncs.models import SyncTrigger
    from syncs.runs import sync_run_account
    from syncs.sandbox_controls import sandbox_revoke_key
    from syncs.sandbox_provider import serve_in_thread

    app.conf.task_always_eager = True  # the worker's tasks (webhook sends) run here
    sandbox = serve_in_thread(control_token=settings.SANDBOX_CONTROL_TOKEN, latency_ms=10)
    settings.SANDBOX_PROVIDER_URL = f"http://127.0.0.1:{sandbox.server.server_port}"
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()

    organization, _, _ = organization_create(name="Detection profile")
    webhook_endpoint_create(
        organization=organization, url=f"http://127.0.0.1:{receiver.server_port}/hook", events=["Issue.new"]
    )
    created = "2026-01-01T00:00:00+00:00"
    ids = [str(uuid7()) for _ in range(2 * count + 5)]
    copy_linked_accounts(
        (
            *(account_id, organization.id, "hris", "sandbox", f"p-{n}", f"Customer {n}", f"p{n}@example.com"),
            *("PRODUCTION", "COMPLETE", "", None, created, created, created, f"p-token-{n}", "x"),
            encrypt_json({"api_key": f"sk_sandbox_profile_{n}"}),
            "",
            None,
            created,
        )
        for n, account_id in enumerate(ids)
    )
    for n in range(len(ids)):
        sandbox_revoke_key(api_key=f"sk_sandbox_profile_{n}", tenant=str(organization.id))

    for account_id in ids[:5]:  # imports, connections, caches
        sync_run_account(account_id=account_id, trigger=SyncTrigger.SCHEDULE)

    measured, profiled = ids[5 : 5 + count], ids[5 + count :]
    statements = {"all": 0, "commit": 0}

    show = "--sql" in argv

    def counting(execute, sql, params, many, context):
        statements["all"] += 1
        if show and statements["all"] <= 40:
            print(f"  SQL {statements['all']}: {sql[:160]}")
        return execute(sql, params, many, context)

    real_commit = connection.commit

    def commit():
        statements["commit"] += 1
        if show and statements["all"] <= 40:
            print("  COMMIT")
        return real_commit()

    # First without the profiler (its overhead would count as CPU), then the same again under it.
    received0 = _Receiver.count
    _, database0 = own_cpu_seconds()
    python0 = time.thread_time()  # this thread only: the sandbox and the receiver are threads too
    wall0 = time.perf_counter()
    with connection.execute_wrapper(counting):
        connection.commit = commit
        for account_id in measured:
            sync_run_account(account_id=account_id, trigger=SyncTrigger.SCHEDULE)
        connection.commit = real_commit
    wall = time.perf_counter() - wall0
    python1 = time.thread_time()
    _, database1 = own_cpu_seconds()

    relink = LinkedAccount.objects.filter(pk__in=measured, status=LinkedAccountStatus.RELINK_NEEDED).count()
    print(
        f"{count} failing syncs: wall {wall * 1000 / count:.1f} ms, CPU Python "
        f"{(python1 - python0) * 1000 / count:.1f} ms, PostgreSQL {(database1 - database0) * 1000 / count:.1f} ms "
        f"per sync; {statements['all'] / count:.1f} SQL statements and {statements['commit'] / count:.1f} "
        f"commits per sync (the webhook send included); {relink}/{count} RELINK_NEEDED, "
        f"{_Receiver.count - received0}/{count} Issue.new received"
    )
    profile = cProfile.Profile(time.thread_time)  # CPU, not wall: waits on PostgreSQL cost nothing here
    profile.enable()
    for account_id in profiled:
        sync_run_account(account_id=account_id, trigger=SyncTrigger.SCHEDULE)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(sort).print_stats(45)
    print(out.getvalue())
    receiver.shutdown()
    sandbox.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
