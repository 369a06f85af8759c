"""The end-user page at /link/<token>: steps, errors in plain words, CSRF, single use."""

import logging
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import LinkedAccount
from accounts.selectors import linked_account_credentials, linked_account_token
from accounts.services import linked_account_mark_relink_needed
from issues.services import issue_record_failure
from linking.finish import link_finish
from linking.link_tokens import magic_link_create
from linking.models import LinkToken, PublicToken

from .helpers import create_link_token, new_end_user_magic_link

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def csrf_from(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def submit(client: Client, link_token: str, api_key: str, *, mode: str = "", htmx: bool = False):
    page = client.get(f"/link/{link_token}/sandbox")
    data = {"csrfmiddlewaretoken": csrf_from(page.content.decode()), "credential-api_key": api_key}
    if mode:
        data["mode"] = mode
    return client.post(f"/link/{link_token}/sandbox/submit", data, **(HTMX if htmx else {}))


def test_chooser_lists_integrations_with_real_links(owner):
    link_token = create_link_token(owner)["link_token"]
    response = Client().get(f"/link/{link_token}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Choose your system" in html
    assert f'href="/link/{link_token}/sandbox"' in html
    assert f'hx-get="/link/{link_token}/sandbox"' in html
    assert 'name="viewport"' in html and "htmx" in html and "linking/link.css" in html
    assert "X-CSRFToken" in html  # hx-headers on <body>


def test_named_integration_skips_the_chooser_and_labels_every_field(owner):
    link_token = create_link_token(owner, integration="sandbox")["link_token"]
    html = Client().get(f"/link/{link_token}").content.decode()
    assert "Connect Sandbox HRIS" in html and "Choose your system" not in html
    assert '<label for="field-api_key">API key</label>' in html
    assert 'id="field-api_key" name="credential-api_key" type="password"' in html
    assert "Choose another system" not in html


def test_htmx_requests_get_only_the_fragment(owner):
    link_token = create_link_token(owner)["link_token"]
    response = Client().get(f"/link/{link_token}/sandbox", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "Connect Sandbox HRIS" in html
    assert "Choose another system" in html


def test_new_link_through_the_page(owner, sandbox_provider):
    link_token = create_link_token(owner, origin_id="page-1")["link_token"]
    client = Client(enforce_csrf_checks=True)
    response = submit(client, link_token, "sk_sandbox_page_secret")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Connected" in html and "Sandbox HRIS is connected for page-1 Ltd" in html
    assert "sk_sandbox_page_secret" not in html
    public_token = re.search(r'data-public-token="([^"]+)"', html).group(1)
    account = LinkedAccount.objects.get()
    assert account.status == "COMPLETE"
    assert linked_account_credentials(account=account) == {"api_key": "sk_sandbox_page_secret"}
    exchanged = owner.client(test=True).get(f"/api/hris/v1/account-token/{public_token}")
    assert exchanged.json()["account_token"] == linked_account_token(account=account)


def test_wrong_key_shows_a_plain_error_and_retry_works(owner, sandbox_provider):
    link_token = create_link_token(owner)["link_token"]
    client = Client(enforce_csrf_checks=True)
    wrong = submit(client, link_token, "wrong_key_value_123")
    html = wrong.content.decode()
    assert wrong.status_code == 200
    assert 'role="alert"' in html and "That didn't work." in html
    assert 'aria-invalid="true"' in html
    assert "wrong_key_value_123" not in html
    # Nothing linked: the attempt leaves an INCOMPLETE account without credentials.
    assert list(LinkedAccount.objects.values_list("status", "credentials_encrypted")) == [("INCOMPLETE", "")]
    # Over htmx the fragment comes back with 200 so that it is swapped in.
    wrong_htmx = submit(client, link_token, "wrong_key_value_123", htmx=True)
    assert wrong_htmx.status_code == 200 and "<html" not in wrong_htmx.content.decode()
    assert "That didn't work." in wrong_htmx.content.decode()
    right = submit(client, link_token, "sk_sandbox_right", htmx=True)
    assert right.status_code == 200 and "Connected" in right.content.decode()
    assert LinkedAccount.objects.count() == 1


def test_empty_key_is_refused_on_the_form(owner, sandbox_provider):
    link_token = create_link_token(owner)["link_token"]
    response = submit(Client(), link_token, "   ")
    assert response.status_code == 200 and "Enter your API key." in response.content.decode()
    assert not LinkedAccount.objects.exists()


def test_csrf_is_enforced_on_the_submit(owner, sandbox_provider):
    link_token = create_link_token(owner)["link_token"]
    client = Client(enforce_csrf_checks=True)
    client.get(f"/link/{link_token}/sandbox")
    response = client.post(f"/link/{link_token}/sandbox/submit", {"credential-api_key": "sk_sandbox_x"})
    assert response.status_code == 403
    assert not LinkedAccount.objects.exists()
    assert LinkToken.objects.get().used_at is None


def test_only_get_and_post_where_meant(owner):
    link_token = create_link_token(owner)["link_token"]
    client = Client()
    assert client.post(f"/link/{link_token}").status_code == 405
    assert client.get(f"/link/{link_token}/sandbox/submit").status_code == 405


@pytest.mark.parametrize("state", ["unknown", "expired", "used"])
def test_dead_links_get_a_clear_page_and_create_nothing(owner, sandbox_provider, state):
    link_token = create_link_token(owner)["link_token"]
    client = Client()
    expected_status, words = 410, ""
    if state == "unknown":
        link_token, expected_status, words = "lt_" + "x" * 40, 404, "This link is not valid"
    elif state == "used":
        assert submit(client, link_token, "sk_sandbox_first").status_code == 200
        words = "already been used"
    else:
        words = "expired"
    accounts_before = LinkedAccount.objects.count()
    with time_machine.travel(timezone.now() + timedelta(minutes=31 if state == "expired" else 0)):
        page = client.get(f"/link/{link_token}")
        form = client.get(f"/link/{link_token}/sandbox")
        post = client.post(f"/link/{link_token}/sandbox/submit", {"credential-api_key": "sk_sandbox_again"})
    for response in (page, form, post):
        assert response.status_code == expected_status
        assert words in response.content.decode()
        assert "credential-api_key" not in response.content.decode()
    assert LinkedAccount.objects.count() == accounts_before
    assert PublicToken.objects.count() == accounts_before


def test_integration_outside_the_token_is_refused(owner):
    link_token = create_link_token(owner, integration="sandbox")["link_token"]
    response = Client().get(f"/link/{link_token}/other")
    assert response.status_code == 200 and "not offered" in response.content.decode()
    assert "credential-api_key" not in response.content.decode()


def test_relink_page_names_the_account_and_why_it_broke(owner, sandbox_provider):
    account, token = owner.linked_account(origin_id="broken-1", account_type="TEST")
    issue_record_failure(account=account, error_description="Invalid API key", detail="HTTP 401")
    linked_account_mark_relink_needed(account=account, reason="The provider rejected the API key (HTTP 401)")
    link_token = create_link_token(owner, origin_id="broken-1")["link_token"]
    html = Client().get(f"/link/{link_token}").content.decode()
    assert "Reconnect Sandbox HRIS" in html
    assert "broken-1 Inc" in html  # the account's end-user organization
    assert "stopped accepting the API key" in html
    assert "Choose your system" not in html and "Choose another system" not in html

    response = submit(Client(enforce_csrf_checks=True), link_token, "sk_sandbox_fresh")
    assert "Reconnected" in response.content.decode()
    account = LinkedAccount.objects.get(pk=account.pk)
    assert account.status == "COMPLETE" and linked_account_token(account=account) == token


def test_relink_that_fails_again_shows_the_support_text(owner, sandbox_provider):
    owner.organization.relink_support_text = "Call Acme support on 555-0100."
    owner.organization.save()
    account, _ = owner.linked_account(origin_id="again-1", account_type="TEST")
    linked_account_mark_relink_needed(account=account, reason="401")
    result = link_finish(
        link_token=create_link_token(owner, origin_id="again-1")["link_token"],
        integration="sandbox",
        credentials={"api_key": "sk_sandbox_one"},
    )
    assert result.ok and result.is_relink
    linked_account_mark_relink_needed(account=account, reason="401 again")

    link_token = create_link_token(owner, origin_id="again-1")["link_token"]
    page = Client().get(f"/link/{link_token}").content.decode()
    assert "Call Acme support on 555-0100." in page
    failed = submit(Client(), link_token, "not_valid_either").content.decode()
    assert "That didn't work." in failed and "Call Acme support on 555-0100." in failed


def test_magic_link_ends_on_close_this_page_and_cannot_be_reused(owner, sandbox_provider):
    account, _ = owner.linked_account(origin_id="magic-1", account_type="TEST")
    linked_account_mark_relink_needed(account=account, reason="401")
    url = magic_link_create(account=account).magic_link_url
    assert url.startswith("http://127.0.0.1:8000/link/") and url.endswith("?mode=magic")
    path = url.removeprefix("http://127.0.0.1:8000")
    link_token = path.split("/")[2].split("?")[0]
    token = LinkToken.objects.get(linked_account=account)
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)

    client = Client(enforce_csrf_checks=True)
    page = client.get(path).content.decode()
    assert "Reconnect Sandbox HRIS" in page and 'name="mode" value="magic"' in page
    done = submit(client, link_token, "sk_sandbox_magic", mode="magic").content.decode()
    assert "You can close this page." in done
    assert 'data-public-token=""' in done
    again = client.get(path)
    assert again.status_code == 410 and "already been used" in again.content.decode()


def test_magic_link_for_a_new_end_user(owner, sandbox_provider):
    url = new_end_user_magic_link(owner, origin_id="fresh-9", expiry_mins=60)
    path = url.removeprefix("http://127.0.0.1:8000")
    page = Client().get(path)
    html = page.content.decode()
    # No integration named and no account yet: the chooser, in magic-link mode.
    assert page.status_code == 200 and "Choose your system" in html
    assert "Sandbox HRIS" in html and "/sandbox?mode=magic" in html
    with pytest.raises(ValueError):
        magic_link_create(organization=owner.organization)


def test_page_posts_never_log_credentials(owner, sandbox_provider, caplog):
    caplog.set_level(logging.DEBUG)
    link_token = create_link_token(owner)["link_token"]
    client = Client()
    submit(client, link_token, "wrong_page_secret_42")
    submit(client, link_token, "sk_sandbox_page_secret_43")
    assert "link finished" in caplog.text
    # Nothing logs the path of a live link token either (Django logs the path of every 4xx).
    assert link_token not in caplog.text
    records = caplog.text + " ".join(str(r.args) + str(getattr(r, "request", "")) for r in caplog.records)
    assert "page_secret" not in records
