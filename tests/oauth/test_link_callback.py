"""The OAuth callback's answers, through Django's test client: each bad input is a clear page
with 400 and saves nothing; a decline offers to try again with the link token still usable;
fewer scopes than required names the missing permission and saves nothing."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine
from django.utils import timezone

from accounts.models import LinkedAccount
from linking.models import LinkToken, OAuthConsent
from tests.linking.helpers import create_link_token

from .conftest import oauth_finish

pytestmark = pytest.mark.django_db


def _start(client, link_token: str) -> dict:
    """Press "Continue with …": the redirect to the consent page, and its query."""
    response = client.get(f"/link/{link_token}/sandbox_oauth/oauth")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("http://127.0.0.1") and "/oauth/authorize" in location
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    return query


def _consent(query: dict, decision: str = "allow", scopes: list[str] | None = None) -> dict:
    """The end user's answer on the sandbox consent page (a real POST to the provider)."""
    form = {**query, "decision": decision, "scope": query["scope"].split() if scopes is None else scopes}
    base = f"http://{urlsplit(query['redirect_uri']).netloc}"  # noqa: F841 - kept for clarity
    from django.conf import settings

    answer = httpx.post(f"{settings.SANDBOX_PROVIDER_URL}/oauth/authorize", data=form)
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def _callback(client, params: dict):
    return client.get("/link/oauth/callback", params)


def test_continue_button_on_the_link_page(owner, client, sandbox_provider):
    link = create_link_token(owner, integration="sandbox_oauth")
    page = client.get(f"/link/{link['link_token']}").content.decode()
    assert "Continue with Sandbox HRIS (OAuth)" in page
    assert 'name="credential-' not in page and "Enter the credentials" not in page  # no form for OAuth


def test_allow_links_the_account(owner, client, sandbox_provider):
    link = create_link_token(owner, integration="sandbox_oauth")
    back = _consent(_start(client, link["link_token"]))
    response = _callback(client, back)
    assert response.status_code == 200
    assert "Connected" in response.content.decode()
    assert LinkedAccount.objects.filter(integration="sandbox_oauth", status="COMPLETE").count() == 1


def test_deny_says_declined_and_the_token_stays_usable(owner, client, sandbox_provider):
    link = create_link_token(owner, integration="sandbox_oauth")
    back = _consent(_start(client, link["link_token"]), decision="deny")
    response = _callback(client, back)
    body = response.content.decode()
    assert response.status_code == 200 and "You declined" in body and "Try again" in body
    assert not LinkedAccount.objects.exists()
    # The same link token still works.
    assert oauth_finish(owner, link["link_token"]).status_code == 201


def test_fewer_scopes_names_the_missing_permission_and_saves_nothing(owner, client, sandbox_provider):
    link = create_link_token(owner, integration="sandbox_oauth")
    back = _consent(_start(client, link["link_token"]), scopes=[])
    response = _callback(client, back)
    body = response.content.decode()
    assert "read your employee directory" in body and "Nothing was saved" in body
    assert not LinkedAccount.objects.exists()
    assert LinkToken.objects.get().used_at is None


@pytest.mark.parametrize(
    "case",
    ["replayed", "expired", "other_link_token", "other_browser", "missing_code", "server_error", "unknown"],
)
def test_bad_callbacks_are_400_and_save_nothing(owner, client, sandbox_provider, case):
    link = create_link_token(owner, integration="sandbox_oauth", end_user_origin_id="a")
    back = _consent(_start(client, link["link_token"]))
    if case == "replayed":
        assert _callback(client, back).status_code == 200
        LinkedAccount.objects.all().delete()
        response = _callback(client, back)
        assert "already used" in response.content.decode()
    elif case == "expired":
        with time_machine.travel(timezone.now() + timezone.timedelta(minutes=11)):
            response = _callback(client, back)
        assert "expired" in response.content.decode()
    elif case == "other_link_token":
        # A state minted for another link token (another end user) does not finish this one:
        # the state is bound to its own link token, so the code lands on that token's account.
        other = create_link_token(owner, integration="sandbox_oauth", origin_id="b")
        other_back = _consent(_start(client, other["link_token"]))
        response = _callback(client, {"state": back["state"], "code": other_back["code"]})
        assert response.status_code == 400
    elif case == "other_browser":
        client.cookies.clear()
        response = _callback(client, back)
        assert "another browser" in response.content.decode()
    elif case == "missing_code":
        response = _callback(client, {"state": back["state"]})
        assert "did not send an authorization code" in response.content.decode()
    elif case == "server_error":
        response = _callback(client, {"state": back["state"], "error": "server_error"})
        assert "could not complete the sign-in" in response.content.decode()
    else:
        response = _callback(client, {"state": "forged", "code": back["code"]})
        assert "not valid" in response.content.decode()
    assert response.status_code == 400
    assert not LinkedAccount.objects.exists()
    assert OAuthConsent.objects.exists()
