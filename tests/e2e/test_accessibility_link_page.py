"""The end-user link page in a real browser, for everyone: axe-core on every state at laptop
(1366x900) and phone (390x844) sizes, the whole flow with JavaScript off (a plain HTML form:
end users on slow phones tap before scripts load), and a link made with the keyboard alone.
Screenshots in test-output/a11y/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import catalog
from accounts.models import LinkedAccount
from accounts.selectors import linked_account_credentials, linked_account_token
from accounts.services import linked_account_mark_relink_needed
from issues.services import issue_record_failure
from linking.link_tokens import magic_link_create
from linking.models import LinkToken
from tests.linking.helpers import create_link_token, new_end_user_magic_link

from .browsing import (
    VIEWPORTS,
    axe_violations,
    control_borders,
    focus_ring_contrast,
    overflow,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A customer's site or a provider's authorize page: another origin, answered by Playwright.
ELSEWHERE = "https://provider.example/oauth/authorize"
# The sandbox provider's OAuth 2.0 twin: "Continue with …", its consent page, our callback.
OAUTH = "sandbox_oauth"
needs_oauth = pytest.mark.skipif(
    OAUTH not in {i.slug for i in catalog.all_integrations()}, reason="no OAuth integration on the link page"
)


def expect(locator):
    # Waits by polling the locator: the page's CSP forbids the eval behind wait_for_function.
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def sandbox_choice(page):
    """The chooser's link to the API-key sandbox (its name is a prefix of the OAuth one's)."""
    return page.locator('a.choice[href$="/sandbox"]')


def relink_needed(owner, origin_id: str) -> LinkedAccount:
    account, _ = owner.linked_account(origin_id=origin_id, account_type="TEST")
    issue_record_failure(account=account, error_description="Invalid API key", detail="HTTP 401")
    linked_account_mark_relink_needed(account=account, reason="The provider rejected the API key (HTTP 401)")
    return account


def audit(page, name: str, width: int) -> list[str]:
    page.wait_for_load_state("networkidle")
    shot(page, name)
    return axe_violations(page, name) + overflow(page, name, width) + control_borders(page, name)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_every_link_page_state_passes_axe(browser, live_server, owner, sandbox_provider, size):
    viewport = VIEWPORTS[size]
    width = viewport["width"]
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    problems: list[str] = []

    # A new end user: the chooser, the form, a wrong key, then the right one.
    link_token = create_link_token(owner, origin_id="axe-new")["link_token"]
    page.goto(f"{live_server.url}/link/{link_token}")
    problems += audit(page, f"{size}-link-chooser", width)
    sandbox_choice(page).click()
    page.get_by_label("API key").wait_for()
    problems += audit(page, f"{size}-link-form", width)
    page.get_by_label("API key").fill("not_a_sandbox_key")
    page.get_by_role("button", name="Connect").click()
    page.get_by_role("alert").wait_for()
    problems += audit(page, f"{size}-link-error", width)
    page.get_by_label("API key").fill("sk_sandbox_axe_new")
    page.get_by_role("button", name="Connect").click()
    page.get_by_role("heading", name="Connected").wait_for()
    problems += audit(page, f"{size}-link-success", width)

    # The same link again: used.
    page.goto(f"{live_server.url}/link/{link_token}")
    problems += audit(page, f"{size}-link-used", width)

    # A relink: why it is needed, then a failure with the organization's support text.
    owner.organization.relink_support_text = "Call Acme IT on 555-0100."
    owner.organization.save()
    account = relink_needed(owner, "axe-relink")
    page.goto(f"{live_server.url}/link/{create_link_token(owner, origin_id='axe-relink')['link_token']}")
    page.get_by_role("heading", name="Reconnect Sandbox HRIS").wait_for()
    problems += audit(page, f"{size}-link-relink", width)
    page.get_by_label("API key").fill("sk_sandbox_axe_relinked")
    page.get_by_role("button", name="Reconnect").click()
    page.get_by_role("heading", name="Reconnected").wait_for()
    problems += audit(page, f"{size}-link-relinked", width)
    linked_account_mark_relink_needed(account=account, reason="401 again")
    page.goto(f"{live_server.url}/link/{create_link_token(owner, origin_id='axe-relink')['link_token']}")
    page.get_by_label("API key").fill("still_wrong")
    page.get_by_role("button", name="Reconnect").click()
    page.get_by_role("alert").wait_for()
    problems += audit(page, f"{size}-link-relink-error", width)

    # A magic link on its own page, ending on "You can close this page".
    magic = magic_link_create(account=relink_needed(owner, "axe-magic"), base_url=live_server.url)
    page.goto(magic.magic_link_url)
    problems += audit(page, f"{size}-link-magic", width)
    page.get_by_label("API key").fill("sk_sandbox_axe_magic")
    page.get_by_role("button", name="Reconnect").click()
    page.get_by_text("You can close this page.").wait_for()
    problems += audit(page, f"{size}-link-magic-done", width)

    # Expired and unknown links.
    expired = create_link_token(owner, origin_id="axe-expired")["link_token"]
    LinkToken.objects.filter(end_user_origin_id="axe-expired").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    page.goto(f"{live_server.url}/link/{expired}")
    assert "expired" in page.content()
    problems += audit(page, f"{size}-link-expired", width)
    page.goto(f"{live_server.url}/link/lt_{'x' * 40}")
    problems += audit(page, f"{size}-link-unknown", width)
    context.close()
    assert not problems, "\n".join(problems)


def test_link_and_relink_with_javascript_off(browser, live_server, owner, sandbox_provider):
    context = browser.new_context(viewport=VIEWPORTS["phone"], java_script_enabled=False)
    page = context.new_page()
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)

    # A new end user: the chooser's links and the form are plain HTML.
    link_token = create_link_token(owner, origin_id="nojs-1")["link_token"]
    page.goto(f"{live_server.url}/link/{link_token}")
    sandbox_choice(page).click()
    page.wait_for_url(f"{live_server.url}/link/{link_token}/sandbox")

    # A wrong key: the same form again, with the error, and the field marked and described.
    page.get_by_label("API key").fill("wrong_key_value")
    with page.expect_navigation() as sent:
        page.get_by_role("button", name="Connect").click()
    assert sent.value.status == 200  # not "403 CSRF verification failed"
    assert "didn't work" in page.get_by_role("alert").inner_text()
    field = page.get_by_label("API key")
    assert field.get_attribute("aria-invalid") == "true"
    assert "form-error" in field.get_attribute("aria-describedby")
    assert "wrong_key_value" not in page.content()
    # The failed attempt leaves an INCOMPLETE account with no credentials (as Merge means it).
    [attempted] = LinkedAccount.objects.filter(end_user_origin_id="nojs-1")
    assert attempted.status == "INCOMPLETE" and not attempted.credentials_encrypted
    shot(page, "nojs-wrong-key")

    # The right key: connected; the page says to close it (its Close button needs a script).
    field.fill("sk_sandbox_nojs_first")
    with page.expect_navigation() as sent:
        page.get_by_role("button", name="Connect").click()
    assert sent.value.status == 200
    page.get_by_role("heading", name="Connected").wait_for()
    assert page.get_by_text("You can close this window to go back.").is_visible()
    assert not page.get_by_role("button", name="Close").is_visible()
    shot(page, "nojs-connected")
    account = LinkedAccount.objects.get(end_user_origin_id="nojs-1")
    token = linked_account_token(account=account)
    assert account.status == "COMPLETE"
    assert account.pk == attempted.pk  # the same account, completed

    # Same-origin POSTs carried their Origin (the CSRF check needs it, "null" fails it).
    assert {p.header_value("origin") for p in posts} == {live_server.url}

    # A relink without JavaScript keeps the account, its id and its token.
    issue_record_failure(account=account, error_description="Invalid API key", detail="HTTP 401")
    linked_account_mark_relink_needed(account=account, reason="The provider rejected the API key (HTTP 401)")
    relink_token = create_link_token(owner, origin_id="nojs-1")["link_token"]
    page.goto(f"{live_server.url}/link/{relink_token}")
    assert "stopped accepting the API key" in page.locator("#relink-reason").inner_text()
    page.get_by_label("API key").fill("sk_sandbox_nojs_second")
    with page.expect_navigation() as sent:
        page.get_by_role("button", name="Reconnect").click()
    assert sent.value.status == 200
    page.get_by_role("heading", name="Reconnected").wait_for()
    shot(page, "nojs-reconnected")
    assert LinkedAccount.objects.filter(end_user_origin_id="nojs-1").count() == 1
    account = LinkedAccount.objects.get(pk=account.pk)
    assert account.status == "COMPLETE"
    assert linked_account_token(account=account) == token
    assert linked_account_credentials(account=account) == {"api_key": "sk_sandbox_nojs_second"}
    context.close()


def test_link_page_sends_no_referrer_to_other_origins(browser, live_server, owner):
    """The page's path holds the link token: leaving for a provider or the customer's site
    tells them nothing, while the page's own requests keep their origin."""
    context = browser.new_context()
    page = context.new_page()
    seen = {}

    def answer(route):
        seen.update(route.request.headers)
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>Provider</title>")

    page.route(f"{ELSEWHERE}*", answer)
    link_token = create_link_token(owner, origin_id="ref-1")["link_token"]
    page.goto(f"{live_server.url}/link/{link_token}")
    with page.expect_request(lambda r: "/link/" in r.url and r.method == "GET") as same:
        sandbox_choice(page).click()
    assert same.value.header_value("referer").startswith(f"{live_server.url}/link/")
    page.get_by_label("API key").wait_for()
    page.evaluate(f"window.location.assign({ELSEWHERE!r})")
    page.wait_for_url(ELSEWHERE)
    assert "referer" not in seen
    assert link_token not in str(seen)
    context.close()


def test_link_with_the_keyboard_only(browser, live_server, owner, sandbox_provider):
    context = browser.new_context(viewport=VIEWPORTS["laptop"])
    page = context.new_page()
    link_token = create_link_token(owner, origin_id="keys-1")["link_token"]
    page.goto(f"{live_server.url}/link/{link_token}")
    page.get_by_role("heading", name="Choose your system").wait_for()

    # Tab to the integration: every stop shows a focus ring of at least 3:1.
    focused = ""
    for _ in range(10):
        page.keyboard.press("Tab")
        assert focus_ring_contrast(page) >= 3, page.evaluate("document.activeElement.outerHTML")
        focused = page.evaluate("document.activeElement.getAttribute('href') || ''")
        if focused.endswith("/sandbox"):
            break
    assert focused.endswith("/sandbox")
    shot(page, "keyboard-choice-focused")
    page.keyboard.press("Enter")

    # The form swaps in with focus in its first field; type the key and press Enter.
    expect(page.locator("#field-api_key")).to_be_focused()
    assert focus_ring_contrast(page) >= 3
    page.keyboard.type("sk_sandbox_keyboard")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Connected").wait_for()
    expect(page.locator("#step-title")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Close"
    assert focus_ring_contrast(page) >= 3
    shot(page, "keyboard-connected")
    account = LinkedAccount.objects.get(end_user_origin_id="keys-1")
    assert account.status == "COMPLETE"
    assert linked_account_credentials(account=account) == {"api_key": "sk_sandbox_keyboard"}
    context.close()


@needs_oauth
@pytest.mark.parametrize("size", VIEWPORTS)
def test_oauth_states_of_the_link_page_pass_axe(browser, live_server, owner, sandbox_provider, size):
    """The "Continue with …" step, a declined consent (the page offers to try again), and the
    return from the provider's consent page that finishes the link."""
    viewport = VIEWPORTS[size]
    width = viewport["width"]
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    problems: list[str] = []
    page.goto(
        new_end_user_magic_link(owner, origin_id="axe-oauth", integration=OAUTH, base_url=live_server.url)
    )
    continue_button = page.get_by_role("link", name="Continue with Sandbox HRIS (OAuth)")
    continue_button.wait_for()
    problems += audit(page, f"{size}-link-oauth-continue", width)

    continue_button.click()
    page.get_by_role("button", name="Deny").click()
    page.get_by_role("heading", name="You declined").wait_for()
    problems += audit(page, f"{size}-link-oauth-declined", width)

    page.get_by_role("link", name="Try again").click()
    page.get_by_role("button", name="Allow").click()
    page.get_by_text("You can close this page.").wait_for()
    problems += audit(page, f"{size}-link-oauth-return", width)
    assert LinkedAccount.objects.get(end_user_origin_id="axe-oauth").status == "COMPLETE"
    context.close()
    assert not problems, "\n".join(problems)


@needs_oauth
def test_oauth_link_with_javascript_off_sends_no_referrer(browser, live_server, owner, sandbox_provider):
    """ "Continue with …" is a plain link: without scripts the consent opens in the same window,
    the provider learns nothing of the link page's address, and its answer finishes the link."""
    context = browser.new_context(viewport=VIEWPORTS["phone"], java_script_enabled=False)
    page = context.new_page()
    to_provider = []
    # The requests our pages make of the provider (its consent form then posts to itself).
    page.on(
        "request",
        lambda r: (
            to_provider.append(r) if r.url.startswith(sandbox_provider.url) and r.method == "GET" else None
        ),
    )
    link_token = create_link_token(owner, origin_id="nojs-oauth", integration=OAUTH)["link_token"]
    page.goto(f"{live_server.url}/link/{link_token}")
    page.get_by_role("link", name="Continue with Sandbox HRIS (OAuth)").click()
    page.get_by_role("button", name="Allow").click()
    page.get_by_role("heading", name="Connected").wait_for()
    shot(page, "nojs-oauth-connected")
    assert to_provider, "the consent page was never asked for"
    assert link_token not in str([r.all_headers() for r in to_provider])
    for request in to_provider:
        assert request.header_value("referer") is None, request.url
    assert LinkedAccount.objects.get(end_user_origin_id="nojs-oauth").status == "COMPLETE"
    context.close()
