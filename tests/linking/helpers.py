"""Helpers for the link-flow tests: link tokens through the API, finishes through the sandbox
endpoint, and a webhook endpoint that records what the organization would receive."""

import json

from issues.models import WebhookDelivery
from linking.link_tokens import magic_link_create


def create_link_token(
    tenant, *, test: bool = True, origin_id: str = "end-user-1", category: str = "hris", **fields
):
    body = {
        "end_user_email_address": f"{origin_id}@example.com",
        "end_user_organization_name": f"{origin_id} Ltd",
        "end_user_origin_id": origin_id,
        "categories": [category],
        **fields,
    }
    response = tenant.client(test=test).post(f"/api/{category}/v1/link-token", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def new_end_user_magic_link(tenant, *, origin_id: str, **options) -> str:
    """The URL of a TEST HRIS magic link for an end user with no account yet (named and addressed
    after `origin_id`), made by the service; `options` go to magic_link_create (integration,
    base_url, expiry_mins)."""
    return magic_link_create(
        organization=tenant.organization,
        account_type="TEST",
        category="hris",
        end_user_origin_id=origin_id,
        end_user_organization_name=f"{origin_id} Ltd",
        end_user_email_address=f"{origin_id}@example.com",
        **options,
    ).magic_link_url


def sandbox_finish(tenant, link_token: str, api_key: str, *, integration: str = "sandbox", test: bool = True):
    return tenant.client(test=test).post(
        "/api/sandbox/v1/public-token",
        {"link_token": link_token, "integration": integration, "credentials": {"api_key": api_key}},
        format="json",
    )


def exchange(tenant, public_token: str, *, test: bool = True, category: str = "hris"):
    return tenant.client(test=test).get(f"/api/{category}/v1/account-token/{public_token}")


def deliveries(organization, event: str) -> list[dict]:
    rows = WebhookDelivery.objects.filter(organization=organization, event=event).order_by("created_at")
    return [json.loads(d.body) for d in rows]


def account_page_and_attempts(tenant, account, *, username: str) -> tuple[str, str]:
    """The dashboard's account page and its relink panel (the link attempts), as an operator of
    the tenant's organization sees them."""
    from tests.dashboard.conftest import operator_client

    operator = operator_client(username=username, organizations=[tenant.organization])
    operator.get("/")
    page = operator.get(f"/accounts/{account.id}").content.decode()
    panel = operator.get(f"/accounts/{account.id}/relink", HTTP_HX_REQUEST="true").content.decode()
    return page, panel
