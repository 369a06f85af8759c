"""The dashboard in a real browser (Playwright + Debian's Chromium): log in as an operator and
walk every page on seeded data, on a laptop and a phone; screenshots in test-output/dashboard/."""

import shutil
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from issues.models import Issue, WebhookDelivery
from syncs.models import SyncRun, SyncRunStatus

from .conftest import CHROMIUM, login, operator_client, running_sync_run
from .seed import seed

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"

if not shutil.which(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_walk_every_page(browser, live_server, owner, transactional_db):
    data = seed(owner, 12)
    operator_client(username="walker", organizations=[owner.organization])
    page = login(browser, live_server, "walker")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    assert page.locator("table#accounts tbody tr[data-account]").count() == 9  # production
    page.select_option("select[name=environment]", "all")
    page.click("#account-filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("table#accounts tbody tr[data-account]").count() == 12
    shot(page, "accounts")
    page.click("nav.nav >> text=Linked accounts")
    page.select_option("select[name=status]", "RELINK_NEEDED")
    page.click("#account-filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("tr[data-account]").count() == 3
    shot(page, "accounts-relink-needed")

    page.locator("tr[data-account] a").first.click()
    page.wait_for_selector("#timeline")
    assert page.locator("#timeline li").count() >= 3
    # The sync, issues and relink panels load themselves into the page.
    page.wait_for_selector("#sync-runs")
    page.wait_for_selector("#account-issues")
    page.wait_for_selector("#relink-emails")
    assert "Invalid API key" in page.inner_text("#account-issues")
    assert "employee" in page.inner_text("#data-counts")
    page.locator("#sync-runs details summary").first.click()
    assert page.get_by_text("/v1/employees?page=0").first.is_visible()
    shot(page, "account")
    # The magic link appears in the account page itself.
    page.click("button:has-text('Create relink magic link')")
    page.wait_for_selector("#magic-link-slot #magic-link-value")
    assert "/link/" in page.inner_text("#magic-link-value")
    assert page.locator("#timeline").is_visible()
    shot(page, "account-magic-link")
    # Each panel is a page of its own at the link the account page loads it from.
    page.click("#account-issues ~ a")  # "Open in the Issues tab" stays a plain link
    page.go_back()
    account_url = page.url
    page.goto(f"{account_url}/sync-runs")
    assert page.locator("#sync-runs").is_visible() and "employee" in page.inner_text("#data-counts")
    shot(page, "account-sync-runs")
    page.goto(f"{account_url}/relink")
    assert page.locator("#relink-emails").is_visible()
    shot(page, "account-relink")

    page.goto(f"{live_server.url}/")
    assert page.locator("svg.chart rect").count() >= 3
    shot(page, "home")

    page.click("nav.nav >> text=Issues")
    assert (
        page.locator("tr[data-issue]").count()
        == Issue.objects.filter(organization=owner.organization).count()
    )
    page.locator("tr.snippet-row summary").first.click()
    assert page.locator("pre[id^=python-]").first.inner_text().count("link_token.create(") == 1
    shot(page, "issues")
    credential = Issue.objects.filter(
        organization=owner.organization, error_description="Invalid API key"
    ).first()
    page.goto(f"{live_server.url}/issues/{credential.id}")
    shot(page, "issue")
    page.click("#relink button:has-text('Create a magic link')")
    page.wait_for_selector("#magic-link-value")
    assert "/link/" in page.inner_text("#magic-link-value")
    shot(page, "magic-link")

    page.click("nav.nav >> text=Webhooks")
    assert page.locator("tr[data-endpoint]").count() == 1
    shot(page, "webhooks")
    page.click(f"a[href='/webhooks/{data['endpoint'].id}']")
    page.wait_for_selector("#deliveries")
    shot(page, "webhook")
    delivery = WebhookDelivery.objects.filter(endpoint=data["endpoint"]).first()
    page.goto(f"{live_server.url}/webhooks/deliveries/{delivery.id}")
    assert page.locator("#attempts tbody tr").count() >= 1
    shot(page, "delivery")

    page.click("nav.nav >> text=Billing")
    assert page.locator("#billable-days").is_visible()
    shot(page, "billing")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    assert download.value.suggested_filename.startswith("relink-billing-")

    page.click("nav.nav >> text=Settings")
    page.select_option("select[name=environment]", "TEST")
    page.click("button:has-text('Create API key')")
    key = page.inner_text("#new-key-value")
    assert key.startswith("rl_test_")
    shot(page, "settings-new-key")
    page.goto(f"{live_server.url}/settings")
    assert key not in page.content()
    assert errors == []


def test_phone_layout(browser, live_server, owner, transactional_db):
    seed(owner, 4)
    operator_client(username="phone", organizations=[owner.organization])
    page = login(browser, live_server, "phone", viewport={"width": 390, "height": 844})
    # Nothing wider than the screen but the tables' own scrolling boxes.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    shot(page, "phone-accounts")
    page.goto(f"{live_server.url}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-home")


def test_sync_badge_updates_by_polling(browser, live_server, owner, transactional_db):
    account, run = running_sync_run(owner, origin_id="busy", requests_total=1, records_fetched=100)
    operator_client(username="poller", organizations=[owner.organization])
    page = login(browser, live_server, "poller")
    # The syncs app fills the row's Sync cell once the list has loaded.
    expect(page.locator(f"#sync-{account.id}")).to_contain_text("100 records", timeout=10_000)
    SyncRun.objects.filter(pk=run.pk).update(requests_total=2, records_fetched=200)
    expect(page.locator(f"#sync-{account.id}")).to_contain_text("200 records", timeout=10_000)
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRunStatus.DONE, finished_at=timezone.now())
    expect(page.locator(f"#sync-{account.id}")).to_contain_text("Sync finished", timeout=10_000)


def test_outsider_sees_404_in_the_browser(browser, live_server, owner, outsider, transactional_db):
    data = seed(owner, 2)
    account, _ = data["accounts"][0]
    operator_client(username="intruder", organizations=[outsider.organization])
    page = login(browser, live_server, "intruder")
    for url in [
        f"/accounts/{account.id}",
        f"/issues/{Issue.objects.filter(organization=owner.organization).first().id}",
        f"/webhooks/{data['endpoint'].id}",
        f"/billing?organization={owner.organization.id}",
    ]:
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 404, url
