import shutil
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.services import membership_add
from syncs.models import SyncRun, SyncRunStatus, SyncTrigger

PASSWORD = "operator-password-1"


def operator_client(*, username: str, organizations) -> Client:
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    for org in organizations:
        membership_add(user=user, organization=org)
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def operator(owner) -> Client:
    """A logged-in operator of the owner's organization."""
    return operator_client(username="olivia", organizations=[owner.organization])


@pytest.fixture
def outsider_operator(outsider) -> Client:
    """A logged-in operator of the outsider organization only."""
    return operator_client(username="oscar", organizations=[outsider.organization])


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (the browser tests' modules share one)."""
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, and Django then refuses ORM
    # calls from it; the tests' own ORM calls are plain synchronous ones. Only while this
    # module runs: other tests' subprocesses (manage.py check --deploy) must not inherit it.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as p:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield browser
        browser.close()


def login(browser, live_server, username, *, viewport=None):
    """A browser page logged in as this operator, on the Linked accounts list."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/accounts")
    return page


def running_sync_run(tenant, *, origin_id: str, records_fetched: int, requests_total: int):
    """A linked account with a sync run in progress (lease held for 5 minutes), for the pages
    that show a running sync."""
    account, _ = tenant.linked_account(origin_id=origin_id)
    run = SyncRun.objects.create(
        linked_account=account,
        organization=tenant.organization,
        integration="sandbox",
        trigger=SyncTrigger.FORCED,
        status=SyncRunStatus.RUNNING,
        started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(minutes=5),
        requests_total=requests_total,
        records_fetched=records_fetched,
    )
    return account, run
