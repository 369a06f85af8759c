"""LOG_FORMAT=json: one JSON object per line naming the request, organization and linked
account, and never a token (an API key, an account token, a link token in a URL)."""

import io
import json
import logging
import logging.config
import uuid

import pytest
from django.conf import settings as django_settings

from config.logging import logging_config


@pytest.fixture
def json_logs():
    """The LOGGING that LOG_FORMAT=json gives, its console stream read back."""
    stream = io.StringIO()
    config = logging_config(log_format="json", level="INFO")
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield lines
    logging.config.dictConfig(django_settings.LOGGING)


@pytest.mark.django_db
def test_an_api_request_logs_json_with_its_ids_and_no_secret(json_logs, owner):
    account, account_token = owner.linked_account(origin_id="json-logs")
    api = owner.client(account_token=account_token)
    missing = uuid.uuid4()
    response = api.get(f"/api/hris/v1/employees/{missing}", HTTP_X_REQUEST_ID="req-abc-12345")
    assert response.status_code == 404 and response["X-Request-ID"] == "req-abc-12345"

    lines = json_logs()
    line = next(entry for entry in lines if entry["logger"] == "django.request")
    assert line["level"] == "WARNING" and str(missing) in line["message"]
    assert line["request_id"] == "req-abc-12345"
    assert line["organization_id"] == str(owner.organization.pk)
    assert line["linked_account_id"] == str(account.pk)
    assert {"time", "level", "logger", "message"} <= set(line)
    raw = json.dumps(lines)
    assert owner.production_key not in raw and account_token not in raw


@pytest.mark.django_db
def test_a_token_in_a_logged_url_or_message_is_masked(json_logs, client):
    link_token = "lt_" + "x" * 40
    assert client.get(f"/link/{link_token}/not-an-integration/submit").status_code in (404, 405)
    logging.getLogger("relink.test").warning("retrying with Authorization: Bearer rl_live_abcdef123456")
    lines = json_logs()
    raw = json.dumps(lines)
    assert link_token not in raw and "rl_live_abcdef123456" not in raw
    assert any("/link/[redacted]" in entry["message"] for entry in lines)
    assert any("Bearer [redacted]" in entry["message"] for entry in lines)
    # A request id is made when the caller sends none.
    assert all(len(entry["request_id"] or "") == 32 for entry in lines if entry["logger"] == "django.request")


@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_json_naming_the_task_organization_and_account(owner, sandbox_provider, monkeypatch):
    from syncs.dispatch import sync_queue_now
    from syncs.models import SyncRun
    from tests.conftest import WorkerProcess, wait_until

    monkeypatch.setenv("LOG_FORMAT", "json")
    account, _ = owner.linked_account(origin_id="json-worker", credentials={"api_key": "sk_sandbox_json_1"})
    worker = WorkerProcess(concurrency=1).start()
    try:
        sync_queue_now(account=account, reason="json logs")
        wait_until(
            lambda: SyncRun.objects.filter(linked_account=account, status="DONE").exists(),
            timeout=60,
            message=f"the sync\n{worker.output()[-2000:]}",
        )
        lines = wait_until(
            lambda: [
                json.loads(line)
                for line in worker.output().splitlines()
                if line.startswith("{")
                and "succeeded" in line
                and "syncs.sync_account" in line
                # (the shared Redis may hold other tests' tasks: this account's task)
                and json.loads(line)["linked_account_id"] == str(account.pk)
            ],
            message=f"the task's log line\n{worker.output()[-2000:]}",
        )
    finally:
        worker.stop()
    line = lines[0]
    assert line["organization_id"] == str(owner.organization.pk)
    assert line["request_id"] and line["request_id"] in line["message"]  # the task id
    assert "sk_sandbox_json_1" not in worker.output()
