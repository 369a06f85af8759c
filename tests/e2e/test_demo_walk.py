"""After `seed_demo`, every page of the dashboard and the link page shows data (a real browser:
Debian's Chromium through Playwright, against a live server). Screenshots in test-output/demo/."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from . import browsing
from .browsing import browser_fixture, shots_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = shots_dir("demo")
browser = browser_fixture(SHOTS)


def shot(page, name: str) -> None:
    browsing.shot(page, name, SHOTS)


def no_empty_state(page) -> None:
    """What a page says when it has nothing to show is marked `.empty`: none may be on screen."""
    assert page.locator(".empty").count() == 0, page.locator(".empty").all_inner_texts()


def test_every_page_shows_the_demo_data(browser, live_server):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    magic_link = re.search(r"relink page for Globex \(test account\): (\S+)", out.getvalue()).group(1)
    errors: list[str] = []
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "relink-demo-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # Home: counts per status and a 30-day chart with bars.
    assert int(page.locator("#status-counts .stat .n").first.inner_text()) >= 4
    assert page.locator("svg.chart rect").count() >= 30
    no_empty_state(page)
    shot(page, "home")

    # Linked accounts: the production accounts, each saying its environment.
    page.goto(f"{live_server.url}/accounts")
    rows = page.locator("table#accounts tbody tr[data-account]")
    assert rows.count() == 6  # one per demo end user
    assert "Production" in rows.first.inner_text()
    no_empty_state(page)
    shot(page, "accounts")

    # An account page: its status history and sync runs.
    page.locator("table#accounts tr[data-account] a", has_text="Globex").first.click()
    page.wait_for_load_state("networkidle")
    assert "Relink needed" in page.content() or "RELINK_NEEDED" in page.content()
    assert page.get_by_text("Missing permissions (demo)").count() >= 1  # last month's history
    no_empty_state(page)
    shot(page, "account")

    # Issues: ongoing ones, each saying its environment.
    page.goto(f"{live_server.url}/issues")
    issues = page.locator("table#issues tbody tr[data-issue]")
    assert issues.count() >= 1 and "Invalid API key" in issues.first.inner_text()
    assert "Production" in page.locator("table#issues").inner_text()
    no_empty_state(page)
    shot(page, "issues")

    # Webhooks: the demo endpoint and its deliveries (delivered, retried, failed).
    page.goto(f"{live_server.url}/webhooks")
    assert page.locator("table#endpoints tbody tr[data-endpoint]").count() == 1
    no_empty_state(page)
    shot(page, "webhooks")
    page.locator("table#endpoints tr[data-endpoint] a").first.click()
    page.wait_for_load_state("networkidle")
    deliveries = page.locator("tr[data-delivery]")
    assert deliveries.count() == 3
    no_empty_state(page)
    shot(page, "webhook-deliveries")

    # Billing, last month: billable days, Relink Needed days excluded.
    last_month = (timezone.now().date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    page.goto(f"{live_server.url}/billing?month={last_month}")
    assert int(page.locator("#billable-days").inner_text()) > 0
    assert "Relink needed: 0" not in page.locator("#excluded").inner_text()
    assert page.locator("table#billing-accounts tbody tr[data-account]").count() >= 4
    no_empty_state(page)
    shot(page, "billing-last-month")

    # The end user's relink page (the magic link the seed made for Globex's test account).
    page.goto(magic_link.replace("http://127.0.0.1:8000", live_server.url))
    assert "Globex" in page.content()
    assert page.locator("form, a.btn, button").count() >= 1
    no_empty_state(page)
    shot(page, "link-page")

    assert errors == []
    connections.close_all()  # this context's connections, before the test database is dropped
