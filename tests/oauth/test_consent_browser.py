"""The OAuth consent flow in a real browser (Debian's Chromium through Playwright) against a
live server and the sandbox OAuth server on a socket, at phone size and with the keyboard:
a magic link declined then allowed (full-page redirects), and a relink by consent from the
embedded page (the consent in a popup that hands back to the page, which tells the customer's
window), which keeps the account's id and token. Screenshots go to test-output/oauth/."""

from pathlib import Path

import pytest
from django.db import connections

from accounts.models import LinkedAccount, Organization
from issues.models import Issue
from syncs.runs import sync_run_account
from tests.conftest import wait_until
from tests.linking.helpers import create_link_token

from .conftest import oauth_link

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "oauth"
CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
CONTINUE = "Continue with Sandbox HRIS (OAuth)"


@pytest.fixture
def browser(monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield browser
        # The ORM calls made while Playwright's loop ran have their own connections: close them
        # in that context, or PostgreSQL refuses to drop the test database.
        connections.close_all()
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def press(page, role: str, name: str) -> None:
    """Keyboard only: focus the control and press Enter."""
    control = page.get_by_role(role, name=name)
    control.focus()
    page.keyboard.press("Enter")


def fits_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_magic_link_deny_then_allow_at_phone_size(live_server, owner, sandbox_provider, browser):
    link = create_link_token(
        owner, origin_id="phone-1", integration="sandbox_oauth", should_create_magic_link_url=True
    )
    magic_url = link["magic_link_url"].replace("http://testserver", live_server.url)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(
        magic_url
        if magic_url.startswith("http")
        else f"{live_server.url}/link/{link['link_token']}?mode=magic"
    )
    page.get_by_role("link", name=CONTINUE).wait_for()
    assert fits_phone(page)
    shot(page, "01-continue")

    # Deny on the provider's page: back on Relink, "you declined", and the link still works.
    press(page, "link", CONTINUE)
    page.get_by_role("button", name="Deny").wait_for()
    assert "employees:read" in page.content()
    shot(page, "02-consent")
    press(page, "button", "Deny")
    page.get_by_role("heading", name="You declined").wait_for()
    assert page.url.startswith(f"{live_server.url}/link/oauth/callback")
    assert fits_phone(page)
    shot(page, "03-declined")
    declined = LinkedAccount.objects.get()  # the end user started linking: INCOMPLETE, says why
    assert declined.status == "INCOMPLETE" and "declined" in declined.status_detail

    # Try again, allow: connected, and a magic link ends on "you can close this page".
    press(page, "link", "Try again")
    page.get_by_role("button", name="Allow").wait_for()
    press(page, "button", "Allow")
    page.get_by_role("heading", name="Connected").wait_for()
    assert page.get_by_text("You can close this page").is_visible()
    shot(page, "04-connected")
    account = LinkedAccount.objects.get(end_user_origin_id="phone-1")
    assert account.pk == declined.pk  # the same account, completed
    assert account.integration == "sandbox_oauth" and account.status == "COMPLETE"
    assert errors == []
    context.close()


def test_relink_by_consent_from_the_embedded_page_keeps_id_and_token(
    live_server, owner, sandbox_provider, browser
):
    account, account_token = oauth_link(owner, origin_id="embedded-1")
    scoped = owner.client(test=True, account_token=account_token)
    assert scoped.post("/api/sandbox/v1/reset-login").status_code == 200
    assert sync_run_account(account_id=str(account.pk), trigger="forced").status == "FAILED"
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
    link = create_link_token(owner, origin_id="embedded-1")
    # The customer's app (here: the live server's origin) is where the page may post its result.
    Organization.objects.filter(pk=owner.organization.pk).update(embedding_origins=[live_server.url])

    context = browser.new_context(viewport=PHONE)
    opener = context.new_page()
    opener.goto(f"{live_server.url}/static/linking/link.css")  # the customer's app, same site
    opener.evaluate(
        "window.relinkMessage = null;"
        "window.addEventListener('message', (e) => { window.relinkMessage = e.data; })"
    )
    with opener.expect_popup() as popup_info:
        opener.evaluate(
            f"window.open('{live_server.url}/link/{link['link_token']}', 'relink', 'width=390,height=760')"
        )
    page = popup_info.value
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.get_by_role("heading", name="Reconnect Sandbox HRIS (OAuth)").wait_for()
    shot(page, "05-relink-page")

    # The consent opens in its own popup; the page stays where it is.
    with page.expect_popup() as consent_info:
        press(page, "link", CONTINUE)
    consent = consent_info.value
    consent.get_by_role("button", name="Allow").wait_for()
    shot(consent, "06-relink-consent")
    press(consent, "button", "Allow")
    consent.wait_for_event("close")  # it handed its result to the page and closed
    page.get_by_role("heading", name="Reconnected").wait_for()
    shot(page, "07-reconnected")

    # Polled from here: the pages' CSP allows no eval, which wait_for_function needs.
    message = wait_until(lambda: opener.evaluate("window.relinkMessage"), timeout=10, interval=0.05)
    assert message["type"] == "relink:success" and message["is_relink"] is True
    exchanged = owner.client(test=True).get(f"/api/hris/v1/account-token/{message['public_token']}").json()
    assert exchanged["id"] == str(account.pk) and exchanged["account_token"] == account_token
    assert LinkedAccount.objects.get(pk=account.pk).status == "COMPLETE"
    assert Issue.objects.get(linked_account=account).status == "RESOLVED"
    # The new grant works: the account syncs again with it.
    assert sync_run_account(account_id=str(account.pk), trigger="forced").status == "DONE"
    assert errors == []
    context.close()
