"""Merge's own Python SDK drives the link flow against a live Relink server."""

import httpx
import pytest
from merge import Merge

pytestmark = pytest.mark.django_db(transaction=True)


def sdk_link(live_server, tenant, merge: Merge, *, origin_id: str, api_key: str) -> tuple[str, str]:
    link = merge.hris.link_token.create(
        end_user_email_address="it@sdk.example",
        end_user_organization_name="SDK Co",
        end_user_origin_id=origin_id,
        categories=["hris"],
        integration="sandbox",
        link_expiry_mins=60,
    )
    assert link.integration_name == "Sandbox HRIS" and link.link_token
    response = httpx.post(
        f"{live_server.url}/api/sandbox/v1/public-token",
        headers={"Authorization": f"Bearer {tenant.test_key}"},
        json={"link_token": link.link_token, "integration": "sandbox", "credentials": {"api_key": api_key}},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    token = merge.hris.account_token.retrieve(response.json()["public_token"])
    assert token.integration.slug == "sandbox" and token.integration.name == "Sandbox HRIS"
    return token.id, token.account_token


def test_sdk_link_token_public_token_account_token_and_relink(live_server, owner, sandbox_provider):
    merge = Merge(base_url=f"{live_server.url}/api", api_key=owner.test_key)
    account_id, account_token = sdk_link(
        live_server, owner, merge, origin_id="sdk-origin", api_key="sk_sandbox_one"
    )

    scoped = Merge(base_url=f"{live_server.url}/api", api_key=owner.test_key, account_token=account_token)
    details = scoped.hris.account_details.retrieve()
    assert details.id == account_id and details.status == "COMPLETE"
    assert details.end_user_origin_id == "sdk-origin"

    again_id, again_token = sdk_link(
        live_server, owner, merge, origin_id="sdk-origin", api_key="sk_sandbox_two"
    )
    assert again_id == account_id
    assert again_token == account_token
    # A client built with an account token may create link tokens too (the header is ignored).
    link = scoped.hris.link_token.create(
        end_user_email_address="x@sdk.example",
        end_user_organization_name="SDK Co",
        end_user_origin_id="sdk-origin-2",
        categories=["hris"],
    )
    assert link.link_token and link.integration_name is None
