"""Secrets grep over an end-to-end run with real processes (gunicorn, a Celery worker with beat,
the sandbox provider, a webhook receiver): link through the sandbox public token, sync,
provider rejects the key, relink with new credentials, provider outage, webhook deliveries.

Everything the run leaves behind is captured — this process's log records (all loggers,
DEBUG), the worker's and gunicorn's output (access log included), every row of every table
(request logs, sync runs, issues, deliveries and their attempts, status history, sessions…),
and every webhook request the receiver got (headers and bodies) — and searched for the secrets
used: the API keys, the account token, the end user's provider credentials and the webhook
signature key, and the link, magic-link and public tokens (the link page is driven through
gunicorn, so its paths reach the access log and Django's warnings). The one allowed place is the
account token in the `LinkedAccount.linked` webhook request itself (the contract puts it there);
the stored delivery holds a placeholder instead, so no table has it.

Defends against: any secret reaching logs, access logs, database rows or webhook requests.

Test by test (what each defends against):
- test_secrets_never_appear_in_logs_rows_or_webhooks: a secret anywhere an end-to-end run leaves traces.
"""

import json
import logging

import httpx
import pytest
from django.apps import apps

from accounts.models import LinkedAccount, LinkedAccountStatus
from issues.models import DeliveryStatus, WebhookDelivery
from issues.webhooks.endpoints import webhook_endpoint_create
from syncs.models import SyncRun, SyncRunStatus
from tests.conftest import wait_until
from tests.faults.conftest import Receiver, Stack

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

FIRST_CREDENTIAL = "sk_sandbox_first_Secret_9f8e7d6c5b4a"
SECOND_CREDENTIAL = "sk_sandbox_second_Secret_1a2b3c4d5e6f"
WRONG_CREDENTIAL = "wrong_provider_Secret_0z9y8x7w6v"


@pytest.fixture
def stack(transactional_db, monkeypatch, settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("runs gunicorn and a worker against PostgreSQL")
    s = Stack(monkeypatch=monkeypatch, settings=settings, extra_env={"LOG_LEVEL": "DEBUG"})
    yield s
    s.close()


def _dump_database() -> list[tuple[str, dict]]:
    rows = []
    for model in apps.get_models():
        for values in model._default_manager.all().values():
            rows.append((model._meta.label, values))
    return rows


def test_secrets_never_appear_in_logs_rows_or_webhooks(stack, owner, sandbox_provider, caplog):
    caplog.set_level(logging.DEBUG)
    receiver = Receiver()
    try:
        endpoint, signature_key = webhook_endpoint_create(organization=owner.organization, url=receiver.url)
        web = stack.start_web()
        stack.start_worker(beat=True)
        api = httpx.Client(
            base_url=web.url, headers={"Authorization": f"Bearer {owner.test_key}"}, timeout=30
        )
        link_body = {
            "end_user_email_address": "secret-flow@example.com",
            "end_user_organization_name": "Secret Flow Inc",
            "end_user_origin_id": "secret-flow-1",
            "categories": ["hris"],
            "integration": "sandbox",
        }

        def finish(link_token: str, api_key: str) -> httpx.Response:
            """The sandbox's public-token endpoint, as the link page calls it on a submit."""
            return api.post(
                "/api/sandbox/v1/public-token",
                json={
                    "link_token": link_token,
                    "integration": "sandbox",
                    "credentials": {"api_key": api_key},
                },
            )

        # Link.
        link_token = api.post("/api/hris/v1/link-token", json=link_body).json()["link_token"]
        response = finish(link_token, FIRST_CREDENTIAL)
        assert response.status_code == 201, response.text
        public_token = response.json()["public_token"]
        account_token = api.get(f"/api/hris/v1/account-token/{public_token}").json()["account_token"]
        account = LinkedAccount.objects.get(end_user_origin_id="secret-flow-1")
        with_token = httpx.Client(
            base_url=web.url,
            headers={"Authorization": f"Bearer {owner.test_key}", "X-Account-Token": account_token},
            timeout=30,
        )
        wait_until(
            lambda: SyncRun.objects.filter(linked_account=account, status=SyncRunStatus.DONE).exists(),
            timeout=60,
            message="the first sync",
        )
        assert with_token.get("/api/hris/v1/employees").status_code == 200

        # The provider rejects the key: a failed sync, an issue, RELINK_NEEDED.
        assert with_token.post("/api/sandbox/v1/reset-login").status_code == 200
        assert with_token.post("/api/hris/v1/sync-status/resync").status_code == 200
        wait_until(
            lambda: LinkedAccount.objects.get(pk=account.pk).status == LinkedAccountStatus.RELINK_NEEDED,
            timeout=60,
            message="RELINK_NEEDED",
        )

        # Relink with new credentials: first a wrong one (rejected without being echoed back).
        relink_token = api.post("/api/hris/v1/link-token", json=link_body).json()["link_token"]
        response = finish(relink_token, WRONG_CREDENTIAL)
        assert response.status_code == 400, response.text
        assert WRONG_CREDENTIAL not in response.text
        response = finish(relink_token, SECOND_CREDENTIAL)
        assert response.status_code == 201, response.text
        wait_until(
            lambda: LinkedAccount.objects.get(pk=account.pk).status == LinkedAccountStatus.COMPLETE,
            timeout=60,
            message="COMPLETE again",
        )

        # The end user's page through gunicorn: the link token is the path. A page view, a magic
        # link, a form post without its CSRF cookie (Django logs the path) and a wrong method (405,
        # logged too); an issues filter with the account token in the query string.
        magic = api.post(
            "/api/hris/v1/link-token", json={**link_body, "should_create_magic_link_url": True}
        ).json()
        magic_token = magic["magic_link_url"].split("/link/", 1)[1].split("?", 1)[0]
        page = httpx.Client(base_url=web.url, timeout=30)
        assert page.get(f"/link/{relink_token}").status_code in (200, 410)
        assert page.get(f"/link/{magic_token}", params={"mode": "magic"}).status_code == 200
        assert page.post(f"/link/{magic_token}/sandbox/submit", data={"api_key": "x"}).status_code == 403
        assert page.request("OPTIONS", f"/link/{magic_token}").status_code == 405
        assert api.get("/api/hris/v1/issues", params={"account_token": account_token}).status_code == 200

        # A provider outage: a failed run whose error names the provider, not the key.
        assert (
            with_token.post("/api/sandbox/v1/provider-outage", json={"mode": "http_500"}).status_code == 200
        )
        before = SyncRun.objects.filter(linked_account=account).count()
        assert with_token.post("/api/hris/v1/sync-status/resync").status_code == 200
        wait_until(
            lambda: (
                SyncRun.objects.filter(linked_account=account).exclude(status=SyncRunStatus.RUNNING).count()
                > before
            ),
            timeout=60,
            message="the outage run",
        )
        wait_until(
            lambda: (
                WebhookDelivery.objects.exists()
                and not WebhookDelivery.objects.exclude(status=DeliveryStatus.SUCCEEDED).exists()
            ),
            timeout=60,
            message="every webhook delivered",
        )
        received = list(receiver.received)
    finally:
        receiver.stop()
    stack.close()  # flush and close the process logs

    events = [json.loads(r["body"])["hook"]["event"] for r in received]
    for expected in (
        "LinkedAccount.linked",
        "LinkedAccount.sync_completed",
        "Issue.new",
        "LinkedAccount.status_changed",
    ):
        assert expected in events, (expected, events)

    secrets = {
        "production API key": owner.production_key,
        "test API key": owner.test_key,
        "account token": account_token,
        "link token": link_token,
        "relink token": relink_token,
        "magic link token": magic_token,
        "public token": public_token,
        "first provider credential": FIRST_CREDENTIAL,
        "second provider credential": SECOND_CREDENTIAL,
        "rejected provider credential": WRONG_CREDENTIAL,
        "webhook signature key": signature_key,
        "webhook signature key (base64 part)": signature_key.removeprefix("whsec_"),
    }
    places: dict[str, str] = {
        "this process's logs": caplog.text,
        "worker and gunicorn output": stack.logs(),
    }
    for label, values in _dump_database():
        places.setdefault(f"table {label}", "")
        places[f"table {label}"] += "\n" + json.dumps(values, default=str)
    for request in received:
        body = json.loads(request["body"])
        text = request["body"].decode()
        if body["hook"]["event"] == "LinkedAccount.linked":
            assert body["data"].get("account_token") in (account_token, None)
            text = text.replace(account_token, "<allowed>")
        places["webhook requests"] = (
            places.get("webhook requests", "") + json.dumps(request["headers"]) + text
        )

    # The grep can see a secret where one is: the new link's webhook carries the account token.
    assert any(
        json.loads(r["body"])["data"].get("account_token") == account_token
        for r in received
        if json.loads(r["body"])["hook"]["event"] == "LinkedAccount.linked"
    )
    assert len(places["worker and gunicorn output"]) > 1000  # the processes did log
    assert "GET /api/hris/v1/employees" in places["worker and gunicorn output"]  # access log captured
    assert "/link/[redacted]" in places["worker and gunicorn output"]  # the link page's lines, masked
    leaks = [
        f"{name} in {place}"
        for name, secret in secrets.items()
        for place, text in places.items()
        if secret in text
    ]
    assert not leaks, leaks
