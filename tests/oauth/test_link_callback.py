"""The OAuth callback's answers, through Django's test client: each bad input is a clear page
with 400 and links nothing; a decline offers to try again with the link token still usable;
fewer scopes than required names the missing permission and links nothing. (Starting a consent
leaves an INCOMPLETE account without credentials: tests/oauth/test_unfinished_consent.py.)"""

import pytest
import time_machine
from django.utils import timezone

from accounts.models import LinkedAccount
from linking.models import LinkToken, OAuthConsent
from tests.linking.helpers import create_link_token

from .conftest import consent_answer, consent_callback, consent_start, oauth_finish

pytestmark = pytest.mark.django_db


def _nothing_linked() -> bool:
    """No account got credentials: at most the INCOMPLETE ones the consents started."""
    return not LinkedAccount.objects.exclude(status="INCOMPLETE", credentials_encrypted="").exists()


def test_continue_button_on_the_link_page(owner, client, sandbox_provider):
    link = create_link_token(owner, integration="sandbox_oauth")
    page = client.get(f"/link/{link['link_token']}").content.decode()
    assert "Continue with Sandbox HRIS (OAuth)" in page
    assert 'name="credential-' not in page and "Enter the credentials" not in page  # no form for OAuth


def test_allow_links_the_account(owner, client, sandbox_provider):
    link = create_link_token(owner, integration="sandbox_oauth")
    back = consent_answer(consent_start(client, link["link_token"]))
    response = consent_callback(client, back)
    assert response.status_code == 200
    assert "Connected" in response.content.decode()
    assert LinkedAccount.objects.filter(integration="sandbox_oauth", status="COMPLETE").count() == 1


def test_deny_says_declined_and_the_token_stays_usable(owner, client, sandbox_provider):
    link = create_link_token(owner, integration="sandbox_oauth")
    back = consent_answer(consent_start(client, link["link_token"]), decision="deny")
    response = consent_callback(client, back)
    body = response.content.decode()
    assert response.status_code == 200 and "You declined" in body and "Try again" in body
    assert _nothing_linked()
    # The same link token still works.
    assert oauth_finish(owner, link["link_token"]).status_code == 201


def test_fewer_scopes_names_the_missing_permission_and_saves_nothing(owner, client, sandbox_provider):
    link = create_link_token(owner, integration="sandbox_oauth")
    back = consent_answer(consent_start(client, link["link_token"]), scopes=[])
    response = consent_callback(client, back)
    body = response.content.decode()
    assert "read your employee directory" in body and "Nothing was saved" in body
    assert _nothing_linked()
    assert LinkToken.objects.get().used_at is None


@pytest.mark.parametrize(
    "case",
    ["replayed", "expired", "other_link_token", "other_browser", "missing_code", "server_error", "unknown"],
)
def test_bad_callbacks_are_400_and_save_nothing(owner, client, sandbox_provider, case):
    link = create_link_token(owner, integration="sandbox_oauth", end_user_origin_id="a")
    back = consent_answer(consent_start(client, link["link_token"]))
    if case == "replayed":
        assert consent_callback(client, back).status_code == 200
        LinkedAccount.objects.all().delete()
        response = consent_callback(client, back)
        assert "already used" in response.content.decode()
    elif case == "expired":
        with time_machine.travel(timezone.now() + timezone.timedelta(minutes=11)):
            response = consent_callback(client, back)
        assert "expired" in response.content.decode()
    elif case == "other_link_token":
        # A state minted for another link token (another end user) does not finish this one:
        # the state is bound to its own link token, so the code lands on that token's account.
        other = create_link_token(owner, integration="sandbox_oauth", origin_id="b")
        other_back = consent_answer(consent_start(client, other["link_token"]))
        response = consent_callback(client, {"state": back["state"], "code": other_back["code"]})
        assert response.status_code == 400
    elif case == "other_browser":
        client.cookies.clear()
        response = consent_callback(client, back)
        assert "another browser" in response.content.decode()
    elif case == "missing_code":
        response = consent_callback(client, {"state": back["state"]})
        assert "did not send an authorization code" in response.content.decode()
    elif case == "server_error":
        response = consent_callback(client, {"state": back["state"], "error": "server_error"})
        assert "could not complete the sign-in" in response.content.decode()
    else:
        response = consent_callback(client, {"state": "forged", "code": back["code"]})
        assert "not valid" in response.content.decode()
    assert response.status_code == 400
    assert _nothing_linked()
    assert OAuthConsent.objects.exists()
