"""Under gunicorn with two worker processes (the Procfile's config): probes and scrapes leave no
access-log line, other requests log their X-Request-ID, and /metrics adds up the processes."""

import os

import httpx
import pytest

from tests.conftest import database_url_for_tests, wait_until
from tests.faults.conftest import WebServer

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-token-for-gunicorn-tests-01"


@pytest.fixture
def server(tmp_path, sandbox_provider):
    env = dict(os.environ)
    env.pop("PYTEST_VERSION", None)
    env.update(
        DATABASE_URL=database_url_for_tests(),
        DEBUG="1",
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        LOG_FORMAT="json",
    )
    web = WebServer(env).start()
    yield web
    web.stop()


def _transitions(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("relink_linked_account_status_transitions_total{")
    )


def test_probes_are_not_logged_and_metrics_add_up_the_processes(server, owner):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(20):
            assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code in (200, 503)  # no dispatcher in this test
        assert client.get("/metrics").status_code == 401
        scrape = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scrape.status_code == 200 and "relink_linked_accounts{" in scrape.text
        response = client.get("/api/hris/v1/account-details", headers={"X-Request-ID": "probe-test-0001"})
        assert response.status_code == 401 and response.headers["X-Request-ID"] == "probe-test-0001"

        # Links finished over the API change statuses in whichever process serves them; every
        # scrape, whichever process answers it, counts them all.
        auth = {"Authorization": f"Bearer {owner.test_key}"}
        first = _transitions(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
        for n in range(6):
            link = client.post(
                "/api/hris/v1/link-token",
                headers=auth,
                json={
                    "end_user_origin_id": f"gunicorn-{n}",
                    "end_user_organization_name": "G",
                    "end_user_email_address": "g@example.com",
                    "categories": ["hris"],
                },
            )
            assert link.status_code == 200, link.text
            finish = client.post(
                "/api/sandbox/v1/public-token",
                headers=auth,
                json={
                    "link_token": link.json()["link_token"],
                    "integration": "sandbox",
                    "credentials": {"api_key": f"sk_sandbox_gunicorn_{n}"},
                },
            )
            assert finish.status_code in (200, 201), finish.text
        scrapes = [
            _transitions(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
            for _ in range(6)
        ]
    assert len(set(scrapes)) == 1 and scrapes[0] >= first + 12  # created, then complete: 6 times

    log = wait_until(
        lambda: "probe-test-0001" in server.output() and server.output(), message="the access log"
    )
    # Not in the access log, nor a warning per 503 from /readyz.
    assert "/healthz" not in log and "/readyz" not in log and "GET /metrics" not in log
    assert "request_id=probe-test-0001" in log
