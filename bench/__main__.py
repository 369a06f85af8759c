"""`python -m bench [name-filter ...]`: fresh PostgreSQL database, every scenario, one table."""

import importlib
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/relink_bench",
    # Production-like: DEBUG off (no query log growing in memory), fixed throwaway secrets.
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
    "FERNET_KEYS": "kP2v0oWb8b9Sg2TqjJm0o7y3a0z8u1w5Hk3t5aB1c9E=",
    "ALLOWED_HOSTS": "*",
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
}


def recreate_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main(argv: list[str]) -> int:
    for key, value in BENCH_ENV.items():
        os.environ.setdefault(key, value)
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        sys.exit("make bench runs on PostgreSQL: set DATABASE_URL=postgres://...")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    recreate_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from bench import scenarios
    from bench.harness import Report

    names = sorted(m.name for m in pkgutil.iter_modules(scenarios.__path__))
    if argv:
        names = [n for n in names if any(f in n for f in argv)]
    report = Report()
    started = time.perf_counter()
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.scenarios.{name}")
        try:
            module.run(report)
        except Exception as exc:  # a failing scenario is a row, the others still run
            traceback.print_exc()
            report.error(name, f"{type(exc).__name__}: {exc}")
    table = report.table()
    print()
    print(table)
    print(f"\n{len(names)} scenario module(s) in {time.perf_counter() - started:.0f} s")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(table + "\n")
    return 1 if any(r.passed is False for r in report.rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
