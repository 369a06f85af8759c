"""Production settings: secrets required with a clear start-up error, `check --deploy` clean,
secure cookies, HSTS, DEBUG off; the Procfile names every process the README documents.

Defends against: a production start with missing or weak secrets, debug pages, insecure cookies,
or a process the README promises but the Procfile lacks.

Test by test (what each defends against):
- test_a_missing_secret_stops_start_up_with_a_clear_error: starting with a default or empty secret.
- test_production_needs_an_explicit_email_backend: magic links printed to the console in production.
- test_a_malformed_fernet_key_stops_start_up: a typo in FERNET_KEYS found only when a secret is read.
- test_check_deploy_is_clean: a regression in Django's deployment checklist.
- test_production_security_settings: DEBUG on, cookies over http, no HSTS, frameable pages.
- test_procfile_runs_web_worker_beat_and_migrations: a deploy without the worker or beat (no syncs, no
  webhooks).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_FERNET = "kP2v0oWb8b9Sg2TqjJm0o7y3a0z8u1w5Hk3t5aB1c9E="
GOOD_SECRET = "x7Gq2-production-secret-key-for-the-settings-test-3vN9pL0sK4mR8tY1wZ6bC5dF"


def _manage(*args: str, **overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    # Explicit values win over the repository's .env (environ only fills in what is unset).
    env.update(
        DEBUG="0",
        SECRET_KEY=GOOD_SECRET,
        FERNET_KEYS=GOOD_FERNET,
        ALLOWED_HOSTS="relink.example.com",
        DATABASE_URL="sqlite:////tmp/relink-settings-check.sqlite3",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    )
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("name", ["SECRET_KEY", "FERNET_KEYS"])
def test_a_missing_secret_stops_start_up_with_a_clear_error(name):
    result = _manage("check", **{name: ""})
    assert result.returncode != 0
    assert f"{name} is required when DEBUG is off" in result.stderr


def test_production_needs_an_explicit_email_backend():
    """Finding 5: the console backend (printing magic links into the logs) was the production default."""
    result = _manage("check", EMAIL_BACKEND="")
    assert result.returncode != 0
    assert "EMAIL_BACKEND is required when DEBUG is off" in result.stderr


def test_a_malformed_fernet_key_stops_start_up():
    result = _manage("check", FERNET_KEYS=f"{GOOD_FERNET},not-a-key")
    assert result.returncode != 0
    assert "FERNET_KEYS entry 2 is not a Fernet key" in result.stderr


def test_check_deploy_is_clean():
    result = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_security_settings():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({n: getattr(s, n) for n in "
        "['DEBUG','SESSION_COOKIE_SECURE','CSRF_COOKIE_SECURE','SESSION_COOKIE_HTTPONLY','SECURE_HSTS_SECONDS',"
        "'SECURE_HSTS_INCLUDE_SUBDOMAINS','SECURE_SSL_REDIRECT','SECURE_CONTENT_TYPE_NOSNIFF','X_FRAME_OPTIONS',"
        "'ALLOWED_HOSTS','OUTBOUND_ALLOW_LOOPBACK']}))"
    )
    result = _manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert (
        values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    )
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["SECURE_SSL_REDIRECT"] and values["SECURE_CONTENT_TYPE_NOSNIFF"]
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["ALLOWED_HOSTS"] == ["relink.example.com"]
    assert values["OUTBOUND_ALLOW_LOOPBACK"] is False


def test_procfile_runs_web_worker_beat_and_migrations():
    processes = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    # web and worker share a Prometheus multi-process directory (config/metrics.py).
    multiproc = "PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-/tmp/relink-prometheus} "
    assert processes["web"].strip().startswith(multiproc + "gunicorn config.wsgi")
    assert processes["worker"].strip().startswith(multiproc + "celery -A config worker")
    assert processes["beat"].strip().startswith("celery -A config beat")
    assert "migrate" in processes["release"]
