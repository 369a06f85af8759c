"""The drill's stack on 127.0.0.1: a private Redis, gunicorn and a Celery worker with beat (the
webhook receiver thread is scripts/webhook_receiver.py); started as process groups of their own and stopped together. Also reads
the CPU time a process tree used, from /proc (utime + stime), which the report divides by the
requests served."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from local_redis import free_port, redis_server_command

ROOT = Path(__file__).resolve().parent.parent.parent


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


def machine_busy_cpu() -> float:
    """CPU seconds every process on the machine has used since boot (all but idle and iowait), from
    /proc/stat: the drill subtracts its own processes to see what the rest of the machine took."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    ticks = [int(value) for value in fields]
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two snapshots; a process gone by `after` is not counted, a new one counts whole."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


class Stack:
    """The drill's subprocesses, each in a session of its own so that stopping one stops its
    children (gunicorn's workers, Celery's pool); `stop` ends them all and removes `work`."""

    def __init__(self, work: Path):
        self.work = work
        self.procs: list[subprocess.Popen] = []

    def _start(self, command: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(command, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def start_redis(self) -> int:
        """A private redis-server; returns its port once it accepts connections."""
        port = free_port()
        redis = self._start(
            redis_server_command(port, self.work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(port, redis, "redis-server")
        return port

    def start_web(
        self, env: dict[str, str], *, workers: int | None, threads: int | None
    ) -> tuple[subprocess.Popen, int]:
        """gunicorn with config/gunicorn.conf.py (the settings `make run` and the Procfile use),
        `workers` and `threads` overriding the config's when given; returns it and its port
        (call `wait_for_port` before sending requests)."""
        port = free_port()
        web = self._start(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-c",
                "config/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                *(["--workers", str(workers)] if workers else []),
                *(["--threads", str(threads)] if threads else []),
            ],
            cwd=ROOT,
            env=env,
        )
        return web, port

    def start_worker(self, env: dict[str, str]) -> subprocess.Popen:
        """A Celery worker of two processes with beat, its schedule file in `work`."""
        from config.worker_process import worker_command

        return self._start(
            worker_command("--beat", f"--schedule={self.work / 'beat'}", concurrency=2), cwd=ROOT, env=env
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(self.work, ignore_errors=True)
