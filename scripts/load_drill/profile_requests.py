"""Profile the API's request path in one process, without sockets: the load drill's request mix
(profile_mix) through Django's WSGI handler, the way a gunicorn worker calls it, on a fresh
PostgreSQL database seeded and synced as the drill seeds it. Prints CPU time and database
queries per request by endpoint, and optionally a cProfile of the measured requests.

A profile of gunicorn itself under `make load` mixes in the socket, the client and the other
processes sharing the cores; this isolates what a change to the views, middleware or
authentication saves, in CPU time (time.process_time), which stays comparable on a busy machine.

Usage: DATABASE_URL=postgres://…/relink_profile REDIS_URL=redis://…/5 \\
    .venv/bin/python scripts/load_drill/profile_requests.py [--requests 3000] [--cprofile out.prof]
The database is dropped and created afresh; the Redis database's rate-limit counters are reset.
"""

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from load_drill import seed  # noqa: E402
from load_drill.profile_mix import NAMES, WEIGHTS, request_headers, request_path  # noqa: E402


def wsgi_environ(path: str, headers: dict[str, str]) -> dict:
    """The WSGI environ gunicorn builds for a GET of `path` (no body)."""
    path_info, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_LENGTH": "0",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--cprofile", help="write a cProfile of the measured requests to this file")
    parser.add_argument("--top", type=int, default=0, help="print the top N functions by cumulative time")
    parser.add_argument("--only", choices=NAMES, help="send only this kind of request")
    parser.add_argument("--reuse", action="store_true", help="keep the database of the last run")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        sys.exit("set DATABASE_URL=postgres://… (the database is recreated)")
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="1", LOG_LEVEL="WARNING")
    if not args.reuse:
        seed.recreate_database(database_url)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from django.conf import settings

    from accounts import ratelimit
    from accounts.models import LinkedAccount
    from syncs.runs import sync_run_account
    from syncs.sandbox_provider import serve_in_thread

    if args.reuse:
        state_file = Path(settings.RUN_DIR) / "profile_state.txt"
        keys_line, *token_lines = state_file.read_text().splitlines()
        keys = keys_line.split()
        tokens = [tuple(line.split()) for line in token_lines]
    else:
        sandbox = serve_in_thread(control_token=settings.SANDBOX_CONTROL_TOKEN)
        settings.SANDBOX_PROVIDER_URL = sandbox.url
        data = seed.seed(accounts=args.accounts, receiver_url="http://127.0.0.1:9/hooks")
        for account_id, _ in data["tokens"]:
            sync_run_account(account_id=account_id, trigger="manual")
        LinkedAccount.objects.update(next_sync_at=None)
        keys, tokens = data["keys"], data["tokens"]
        Path(settings.RUN_DIR).mkdir(exist_ok=True)
        (Path(settings.RUN_DIR) / "profile_state.txt").write_text(
            "\n".join([" ".join(keys), *(" ".join(t) for t in tokens)]) + "\n"
        )
    employee_ids = seed.employee_ids(tokens)
    ratelimit._client(ratelimit.redis_url()).flushdb()

    # The web process runs with DEBUG off (as the drill's gunicorn does).
    settings.DEBUG = False
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    application = get_wsgi_application()
    rng = random.Random(7)
    plan = []
    for i in range(args.warmup + args.requests):
        kind = args.only or rng.choices(NAMES, WEIGHTS)[0]
        account_id, token = tokens[i % len(tokens)]
        path = request_path(kind, employee_ids.get(account_id, account_id))
        plan.append((kind, wsgi_environ(path, request_headers(keys[i % len(tokens) % len(keys)], token))))

    statuses: Counter = Counter()
    queries: Counter = Counter()
    cpu: defaultdict[str, float] = defaultdict(float)
    samples: defaultdict[str, list[float]] = defaultdict(list)
    count: Counter = Counter()
    current = [""]

    def count_queries(execute, sql, params, many, context):
        queries[current[0]] += 1
        return execute(sql, params, many, context)

    def start_response(status, headers, exc_info=None):
        statuses[int(status.split()[0])] += 1

    def call(environ):
        environ["wsgi.input"] = io.BytesIO(b"")
        response = application(dict(environ), start_response)
        for _chunk in response:
            pass
        response.close()  # as gunicorn does: Django's request_finished runs here

    for _, environ in plan[: args.warmup]:
        call(environ)
    statuses.clear()
    profiler = None
    if args.cprofile or args.top:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
    with connection.execute_wrapper(count_queries):
        started = time.process_time()
        if profiler:
            profiler.enable()
        for kind, environ in plan[args.warmup :]:
            current[0] = kind
            before = time.process_time()
            call(environ)
            spent = time.process_time() - before
            cpu[kind] += spent
            samples[kind].append(spent)
            count[kind] += 1
        if profiler:
            profiler.disable()
        total = time.process_time() - started

    # The median resists the moments another process took the core (a busy machine inflates
    # CPU time too: caches, frequency); "all" weighs each endpoint's median by its requests.
    print(f"{'endpoint':<18}{'n':>6}{'CPU ms':>9}{'median':>9}{'queries':>9}")
    medians = {}
    for kind in NAMES:
        if count[kind]:
            medians[kind] = statistics.median(samples[kind])
            print(
                f"{kind:<18}{count[kind]:>6}{cpu[kind] / count[kind] * 1000:>9.2f}"
                f"{medians[kind] * 1000:>9.2f}{queries[kind] / count[kind]:>9.2f}"
            )
    n = sum(count.values())
    weighted = sum(medians[k] * count[k] for k in medians) / n
    print(
        f"{'all':<18}{n:>6}{total / n * 1000:>9.2f}{weighted * 1000:>9.2f}{sum(queries.values()) / n:>9.2f}"
    )
    print(f"statuses: {dict(statuses)}")
    if profiler:
        if args.cprofile:
            profiler.dump_stats(args.cprofile)
        if args.top:
            import pstats

            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
    return 0 if set(statuses) == {200} else 1


if __name__ == "__main__":
    sys.exit(main())
