"""axe-core on every operator dashboard page at laptop (1366x900) and phone (390x844) sizes,
on seeded data: no serious or critical violation, no sideways scrolling on a phone, and the
hands-on checks axe cannot make (skip link, labelled scroll regions, chart numbers as text).
Screenshots in test-output/a11y/."""

import uuid

import pytest

from issues.models import Issue, WebhookDelivery
from issues.services import issue_record_failure
from tests.conftest import wait_until
from tests.dashboard.conftest import operator_client
from tests.dashboard.seed import page_urls, seed

from .browsing import (
    VIEWPORTS,
    axe_violations,
    control_borders,
    login,
    overflow,
    shot,
    text_contrast,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_DETAIL = "GET https://api.provider.example/v1/employees?cursor=" + "c2VjcmV0LWN1cnNvcg" * 8


def hands_on(page, name: str, width: int) -> list[str]:
    """What axe leaves to people: no sideways scrolling, form-control borders at 3:1, badges
    with a margin over 4.5:1."""
    return (
        overflow(page, name, width) + control_borders(page, name) + text_contrast(page, name, ".badge", 5.0)
    )


def dashboard_urls(data: dict, organization) -> dict[str, str]:
    account, _ = data["accounts"][1]  # relink needed, with a credential issue
    return {
        **page_urls(
            account=account,
            issue=Issue.objects.filter(
                organization=organization, error_description="Invalid API key"
            ).first(),
            endpoint=data["endpoint"],
            delivery=WebhookDelivery.objects.filter(endpoint=data["endpoint"]).first(),
        ),
        "accounts": "/accounts?environment=all",
        "account-delete": f"/accounts/{account.id}/delete",
    }


@pytest.mark.parametrize("size", VIEWPORTS)
def test_every_dashboard_page_passes_axe(browser, live_server, owner, size):
    viewport = VIEWPORTS[size]
    data = seed(owner, 8)
    account, _ = data["accounts"][1]
    issue_record_failure(account=account, error_description="Invalid API key", detail=LONG_DETAIL)
    # Its own name each run: the wrong password below counts against the username for 15 minutes.
    username = f"auditor-{uuid.uuid4().hex[:8]}"
    operator_client(username=username, organizations=[owner.organization])
    problems: list[str] = []
    context = browser.new_context(viewport=viewport)

    # Logged out: the login page, and its error after a wrong password.
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    problems += axe_violations(page, "login") + hands_on(page, "login", viewport["width"])
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_selector("[role=alert]")
    problems += axe_violations(page, "login-error")
    shot(page, f"{size}-login-error")
    page.close()

    page = login(context, live_server.url, username)
    for name, url in dashboard_urls(data, owner.organization).items():
        page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
        problems += axe_violations(page, name) + hands_on(page, name, viewport["width"])
        shot(page, f"{size}-{name}")

    # Pages that answer a POST: a new API key and a magic link, shown once.
    page.goto(f"{live_server.url}/settings")
    page.select_option("select[name=environment]", "TEST")
    page.click("button:has-text('Create API key')")
    page.wait_for_selector("#new-key-value")
    problems += axe_violations(page, "settings-new-key") + hands_on(
        page, "settings-new-key", viewport["width"]
    )
    page.goto(f"{live_server.url}/accounts/{account.id}")
    page.click("button:has-text('Create relink magic link')")
    page.wait_for_selector("#magic-link-value")
    problems += axe_violations(page, "magic-link") + hands_on(page, "magic-link", viewport["width"])
    shot(page, f"{size}-magic-link")
    context.close()

    # An operator of no organization yet.
    operator_client(username=f"{username}-none", organizations=[])
    context = browser.new_context(viewport=viewport)
    page = login(context, live_server.url, f"{username}-none")
    assert "not a member of any organization" in page.content()
    problems += axe_violations(page, "no-organization") + hands_on(page, "no-organization", viewport["width"])
    context.close()
    assert not problems, "\n".join(problems)


def test_skip_link_menu_chart_numbers_and_scroll_regions(browser, live_server, owner):
    data = seed(owner, 4)
    account, _ = data["accounts"][1]
    operator_client(username="keys", organizations=[owner.organization])
    context = browser.new_context(viewport=VIEWPORTS["phone"])
    page = login(context, live_server.url, "keys")

    # The first Tab reaches "Skip to content", which moves focus past the top bar.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"

    # On a phone the top bar is one short row; its Menu button opens the sections.
    bar = page.locator("header.topbar")
    assert bar.bounding_box()["height"] <= 60
    sections = page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing")
    assert not sections.is_visible()
    page.get_by_text("Menu").focus()
    page.keyboard.press("Enter")
    assert sections.is_visible()
    assert axe_violations(page, "menu-open") == []
    shot(page, "phone-menu-open")
    sections.click()
    page.wait_for_url(f"{live_server.url}/billing")

    # The home chart: labels of a readable size, and the numbers as a table.
    page.goto(f"{live_server.url}/")
    label = page.locator("#status-chart text").first.bounding_box()
    assert label["height"] >= 11, label
    numbers = page.locator("#chart-numbers")
    assert not numbers.is_visible()
    page.get_by_text("The numbers, day by day").click()
    today = numbers.locator("tbody tr").first
    total = int(page.locator("#status-counts .stat .n").first.inner_text())
    assert today.locator("td").last.inner_text() == str(total)
    assert numbers.locator("thead th").all_inner_texts()[:3] == ["DAY", "COMPLETE", "IDLE"]

    # A table wider than the phone scrolls in a labelled region that the keyboard can scroll.
    page.goto(f"{live_server.url}/accounts/{account.id}")
    region = page.get_by_role("region", name="Sync runs")
    assert region.evaluate("el => el.scrollWidth > el.clientWidth")
    region.focus()
    page.keyboard.press("ArrowRight")
    wait_until(lambda: region.evaluate("el => el.scrollLeft") > 0, timeout=10, message="the region scrolled")

    # Wider screens show the sections in the bar, with no Menu button.
    page.set_viewport_size(VIEWPORTS["laptop"])
    assert sections.is_visible() and not page.get_by_text("Menu").is_visible()
    context.close()
