"""The command line that starts a Celery worker of this project in a subprocess, for the tests'
worker fixture, the bench scenarios and scripts/load.py: one place says how a worker is started
outside `make run` (no gossip or mingle: each is the only worker of its run)."""

import sys


def worker_command(*options: str, concurrency: int, loglevel: str = "WARNING") -> list[str]:
    """`celery -A config worker` with the given concurrency and log level, then `options`
    (queues, pool, hostname, beat...)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        f"--loglevel={loglevel}",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
        *options,
    ]
