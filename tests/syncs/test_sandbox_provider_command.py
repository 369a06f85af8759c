"""`manage.py sandbox_provider` as `make run` starts it: it binds first and then says where, so a
port taken by another process never stops it (the check-then-bind race that killed `make run`)."""

import os
import signal
import socket
import subprocess
import sys

import httpx

from tests.conftest import ROOT, wait_until


def test_a_busy_port_gets_a_free_one_and_the_bound_url_is_written(tmp_path):
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    busy = squatter.getsockname()[1]
    url_file = tmp_path / "sandbox-url"
    env = {**os.environ, "DEBUG": "1", "SANDBOX_PROVIDER_URL": f"http://127.0.0.1:{busy}"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox_provider", "--any-port-if-busy", "--url-file", str(url_file)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: url_file.exists() or proc.poll() is not None, message="the URL file")
        assert proc.poll() is None, proc.stdout.read().decode()
        url = url_file.read_text()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(f":{busy}")
        # The written URL is the provider: it answers (401 without a key), the squatter never does.
        assert httpx.get(f"{url}/v1/employees", timeout=10).status_code == 401
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        squatter.close()


def test_without_the_fallback_a_busy_port_is_an_error(tmp_path):
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    env = {
        **os.environ,
        "DEBUG": "1",
        "SANDBOX_PROVIDER_URL": f"http://127.0.0.1:{squatter.getsockname()[1]}",
    }
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "sandbox_provider", "--url-file", str(tmp_path / "u")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert result.returncode != 0 and not (tmp_path / "u").exists()
    finally:
        squatter.close()
