"""The link and relink flow in a real browser (Debian's Chromium through Playwright) against a
live server, the sandbox provider on a socket, and a real Celery worker running the syncs.
Screenshots of every step go to test-output/e2e/."""

import functools

import pytest
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import LinkedAccount, Organization
from accounts.selectors import linked_account_token
from issues.models import Issue
from syncs.models import SyncRun
from tests.conftest import WorkerProcess, wait_until

from . import browsing
from .browsing import browser_fixture, shots_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = shots_dir("e2e")
browser = browser_fixture(SHOTS)


def closing_connections(test):
    """The ORM calls a test makes while Playwright's event loop runs get their own connections
    (Django keeps connections per async context); the test closes them in that context when it
    ends, or PostgreSQL refuses to drop the test database at the end."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        try:
            return test(*args, **kwargs)
        finally:
            connections.close_all()

    return run


@pytest.fixture
def worker(sandbox_provider, transactional_db):
    process = WorkerProcess(concurrency=2).start()
    yield process
    process.stop()


def shot(page, name: str) -> None:
    browsing.shot(page, name, SHOTS)


def link_token_for(tenant, origin_id: str) -> str:
    response = tenant.client(test=True).post(
        "/api/hris/v1/link-token",
        {
            "end_user_email_address": "people@northwind.example",
            "end_user_organization_name": "Northwind",
            "end_user_origin_id": origin_id,
            "categories": ["hris"],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["link_token"]


def open_embedded(context, live_server, link_token: str, errors: list):
    """The customer's app opens the link page in a popup and listens for its message."""
    opener = context.new_page()
    opener.goto(f"{live_server.url}/static/linking/link.css")  # any page of the app's origin
    opener.evaluate(
        "window.relinkMessage = null;"
        "window.addEventListener('message', (e) => { window.relinkMessage = e.data; })"
    )
    with opener.expect_popup() as popup_info:
        opener.evaluate(
            f"window.open('{live_server.url}/link/{link_token}', 'relink', 'width=480,height=760')"
        )
    popup = popup_info.value
    popup.on("pageerror", lambda e: errors.append(str(e)))
    popup.wait_for_load_state()
    return opener, popup


def message_to(opener, timeout: float = 5) -> dict:
    """The message the link page posted to its opener. Polled from here: the page's CSP allows
    no eval, which Playwright's wait_for_function needs."""
    return wait_until(lambda: opener.evaluate("window.relinkMessage"), timeout=timeout, interval=0.05)


def sync_runs(account) -> list[SyncRun]:
    return list(SyncRun.objects.filter(linked_account=account).order_by("started_at"))


@closing_connections
def test_link_then_relink_in_the_browser(live_server, owner, sandbox_provider, worker, browser):
    # The customer's app (here: a page of the live server's origin) may embed the link page.
    Organization.objects.filter(pk=owner.organization.pk).update(embedding_origins=[live_server.url])
    context = browser.new_context(viewport={"width": 480, "height": 800})
    client = owner.client(test=True)
    js_errors: list[str] = []

    # 1. A new end user links the sandbox integration through the page (embedded in a popup).
    opener, page = open_embedded(context, live_server, link_token_for(owner, "northwind-7"), js_errors)
    assert page.get_by_role("heading", name="Choose your system").is_visible()
    shot(page, "01-choose-integration")
    page.get_by_role("link", name="Sandbox HRIS HRIS", exact=True).click()
    page.get_by_label("API key").wait_for()
    # Keyboard focus follows the step that was swapped in.
    expect(page.locator("#field-api_key")).to_be_focused()
    shot(page, "02-credentials-form")
    page.get_by_label("API key").fill("sk_sandbox_northwind_first")
    page.get_by_role("button", name="Connect").click()
    page.get_by_role("heading", name="Connected").wait_for()
    shot(page, "03-connected")
    message = message_to(opener)
    assert message["type"] == "relink:success" and message["is_relink"] is False
    exchanged = client.get(f"/api/hris/v1/account-token/{message['public_token']}").json()
    account = LinkedAccount.objects.get(end_user_origin_id="northwind-7")
    assert exchanged["id"] == str(account.id)
    account_token = exchanged["account_token"]
    assert account.status == "COMPLETE"
    wait_until(
        lambda: [r for r in sync_runs(account) if r.status == "DONE"], timeout=60, message="initial sync"
    )
    page.close()

    # 2. The provider revokes the key; the next sync fails and the account needs a relink.
    scoped = owner.client(test=True, account_token=account_token)
    assert scoped.post("/api/sandbox/v1/reset-login").status_code in (200, 204)
    assert scoped.post("/api/hris/v1/sync-status/resync").status_code in (200, 202)
    wait_until(
        lambda: LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED",
        timeout=60,
        message="RELINK_NEEDED after the failed sync",
    )
    issue = Issue.objects.get(linked_account=account, error_description="Invalid API key")
    assert issue.status == "ONGOING"

    # 3. A relink link for the same origin id opens the relink screen, which says why.
    opener, page = open_embedded(context, live_server, link_token_for(owner, "northwind-7"), js_errors)
    page.get_by_role("heading", name="Reconnect Sandbox HRIS").wait_for()
    assert "reconnecting Northwind's Sandbox HRIS account" in page.locator(".context").inner_text()
    assert "stopped accepting the API key" in page.locator("#relink-reason").inner_text()
    assert page.get_by_role("heading", name="Choose your system").count() == 0
    shot(page, "04-relink-screen")

    # 4. A wrong key shows an error in plain words, typed and sent with the keyboard only.
    page.get_by_label("API key").focus()
    page.keyboard.type("sk_sandbox_northwind_first")  # the revoked one
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "didn't work" in alert.inner_text()
    assert "sk_sandbox_northwind_first" not in page.content()
    expect(page.locator("#field-api_key")).to_be_focused()
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
    shot(page, "05-wrong-key")

    # 5. The right key finishes the relink.
    relinked_at = timezone.now()
    page.get_by_label("API key").fill("sk_sandbox_northwind_second")
    page.get_by_role("button", name="Reconnect").click()
    page.get_by_role("heading", name="Reconnected").wait_for()
    shot(page, "06-reconnected")
    message = message_to(opener)
    assert message["is_relink"] is True
    again = client.get(f"/api/hris/v1/account-token/{message['public_token']}").json()

    # 6. Same id and token, COMPLETE, the issue RESOLVED, and a new sync has run.
    assert again["id"] == str(account.id)
    assert again["account_token"] == account_token == linked_account_token(account=account)
    assert LinkedAccount.objects.filter(end_user_origin_id="northwind-7").count() == 1
    account = LinkedAccount.objects.get(pk=account.pk)
    assert account.status == "COMPLETE"
    assert Issue.objects.get(pk=issue.pk).status == "RESOLVED"
    wait_until(
        lambda: [r for r in sync_runs(account) if r.started_at >= relinked_at and r.status == "DONE"],
        timeout=60,
        message="a successful sync after the relink",
    )
    assert LinkedAccount.objects.get(pk=account.pk).status == "COMPLETE"
    assert scoped.get("/api/hris/v1/employees").status_code == 200
    assert js_errors == []
    context.close()


@closing_connections
def test_magic_link_on_a_phone_ends_on_close_this_page(live_server, owner, sandbox_provider, browser):
    from tests.linking.helpers import new_end_user_magic_link

    url = new_end_user_magic_link(owner, origin_id="phone-1", integration="sandbox", base_url=live_server.url)
    context = browser.new_context(viewport={"width": 375, "height": 700}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(url)
    field = page.get_by_label("API key")
    box = field.bounding_box()
    assert box["width"] > 250  # the form fills a phone's width
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    shot(page, "07-magic-link-phone")
    field.fill("sk_sandbox_phone")
    page.get_by_role("button", name="Connect").click()
    page.get_by_text("You can close this page.").wait_for()
    shot(page, "08-magic-link-done")
    assert LinkedAccount.objects.filter(end_user_origin_id="phone-1", status="COMPLETE").count() == 1
    # The used magic link is refused.
    response = page.goto(url)
    assert response.status == 410
    assert "already been used" in page.content()
    shot(page, "09-magic-link-used")
    context.close()
    for name in ("07-magic-link-phone", "08-magic-link-done", "09-magic-link-used"):
        assert (SHOTS / f"{name}.png").stat().st_size > 1000, name  # each step's screenshot was taken


@closing_connections
def test_only_an_allowed_origin_hears_the_result(live_server, owner, sandbox_provider, browser):
    """The organization allows another origin than the opener's: the link still completes, but
    the opener never receives the public token (the page posts to the allowed origins only)."""
    Organization.objects.filter(pk=owner.organization.pk).update(
        embedding_origins=["https://app.example.com"]
    )
    context = browser.new_context(viewport={"width": 480, "height": 800})
    js_errors: list[str] = []
    opener, page = open_embedded(context, live_server, link_token_for(owner, "foreign-1"), js_errors)
    opener.evaluate(
        "window.relinkMessages = []; window.addEventListener('message', (e) => relinkMessages.push(e.data))"
    )
    assert page.locator("body").get_attribute("data-embedding-origins") == "https://app.example.com"
    page.get_by_role("link", name="Sandbox HRIS HRIS", exact=True).click()
    page.get_by_label("API key").fill("sk_sandbox_foreign")
    page.get_by_role("button", name="Connect").click()
    page.get_by_role("heading", name="Connected").wait_for()
    assert LinkedAccount.objects.filter(end_user_origin_id="foreign-1", status="COMPLETE").exists()
    # Messages from one window arrive in order: once this probe, sent after the page finished,
    # has arrived, a message the page had posted to the opener would have arrived before it.
    page.evaluate("window.opener.postMessage({type: 'probe'}, '*')")
    received = wait_until(lambda: opener.evaluate("window.relinkMessages.length && window.relinkMessages"))
    assert received == [{"type": "probe"}]
    context.close()
