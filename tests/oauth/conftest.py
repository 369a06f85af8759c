"""Fixtures of the OAuth tests: the sandbox provider (HRIS + OAuth server) on a real socket, and
accounts linked through the real headless consent round trip."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.conf import settings

from accounts.models import LinkedAccount
from tests.linking.helpers import create_link_token, exchange


def pytest_runtest_setup(item):
    from django.db import connection

    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def oauth_finish(tenant, link_token: str, *, integration: str = "sandbox_oauth"):
    return tenant.client(test=True).post(
        "/api/sandbox/v1/public-token",
        {"link_token": link_token, "integration": integration, "credentials": {}},
        format="json",
    )


CATEGORIES = {"sandbox_oauth": "hris", "sandbox_crm": "crm"}


def oauth_link(tenant, *, origin_id: str = "oauth-user-1", integration: str = "sandbox_oauth"):
    """A test account linked by consent (headless "Allow"): (account, account token)."""
    category = CATEGORIES[integration]
    link = create_link_token(tenant, origin_id=origin_id, integration=integration, category=category)
    finished = oauth_finish(tenant, link["link_token"], integration=integration)
    assert finished.status_code == 201, finished.content
    body = exchange(tenant, finished.json()["public_token"], category=category).json()
    return LinkedAccount.objects.get(pk=body["id"]), body["account_token"]


def control(action: str, body: dict | None = None) -> dict:
    """The sandbox OAuth server's controls (what a test reads: stats; what it breaks)."""
    response = httpx.post(
        f"{settings.SANDBOX_PROVIDER_URL}/control/oauth/{action}",
        json=body or {},
        headers={"X-Sandbox-Control": settings.SANDBOX_CONTROL_TOKEN},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def consent_start(client, link_token: str, integration: str = "sandbox_oauth") -> dict:
    """Press "Continue with …" on the link page (Django's test client): the redirect to the
    provider's consent page, and its query."""
    response = client.get(f"/link/{link_token}/{integration}/oauth")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("http://127.0.0.1") and "/oauth/authorize" in location
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    return query


def consent_answer(query: dict, decision: str = "allow", scopes: list[str] | None = None) -> dict:
    """The end user's answer on the sandbox consent page (a real POST to the provider): the
    query of its redirect back to Relink's callback."""
    form = {**query, "decision": decision, "scope": query["scope"].split() if scopes is None else scopes}
    answer = httpx.post(f"{settings.SANDBOX_PROVIDER_URL}/oauth/authorize", data=form)
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def consent_callback(client, params: dict):
    """The browser back at Relink's callback."""
    return client.get("/link/oauth/callback", params)
