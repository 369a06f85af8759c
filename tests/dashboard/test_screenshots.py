"""The pages an operator knows by sight (Linked accounts, an account's page, the Issues tab,
billing), shot on a laptop and a phone on seeded data at a fixed clock, so that a refactor can be
checked to look the same: screenshots go to test-output/dashboard/screens/.

With RELINK_SCREENS_BASELINE=<dir of earlier shots>, each shot is also compared pixel by pixel
with the one of the same name there (run once before a change, copy the folder, run after)."""

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import expect

from issues.models import Issue

from .conftest import CHROMIUM, login, operator_client
from .seed import seed

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "dashboard" / "screens"
VIEWPORTS = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
# Ids and tokens differ from run to run: their boxes are painted over before comparing.
VOLATILE = ["dd code", "pre", "#magic-link"]

if not shutil.which(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


def differing_share(before: Path, after: Path) -> float:
    """The share of pixels that differ between two screenshots (1.0 when the sizes differ)."""
    from PIL import Image, ImageChops

    a, b = Image.open(before).convert("RGB"), Image.open(after).convert("RGB")
    if a.size != b.size:
        return 1.0
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 16 else 0)
    return diff.histogram()[255] / (a.size[0] * a.size[1])


def test_known_pages_look_the_same(browser, live_server, owner, transactional_db):
    # A fixed clock (still ticking, for timeouts) in the future of the real one, so the
    # session cookie is not already expired for the browser.
    with time_machine.travel(datetime(2031, 3, 14, 9, 0, tzinfo=UTC), tick=True):
        data = seed(owner, 8)
        operator_client(username="shooter", organizations=[owner.organization])
        account = next(a for a, _ in data["accounts"] if Issue.objects.filter(linked_account=a).exists())
        pages = {
            "accounts": "/accounts",
            "account": f"/accounts/{account.id}",
            "issues": "/issues",
            "billing": "/billing",
        }
        SHOTS.mkdir(parents=True, exist_ok=True)
        for device, viewport in VIEWPORTS.items():
            page = login(browser, live_server, "shooter", viewport=viewport)
            for name, url in pages.items():
                page.goto(f"{live_server.url}{url}")
                # The account page's panels arrive after the frame: wait until they have.
                page.wait_for_load_state("networkidle")
                expect(page.locator(".htmx-request, [data-panel-loading]")).to_have_count(0)
                masks = [page.locator(selector) for selector in VOLATILE]
                page.screenshot(path=str(SHOTS / f"{name}-{device}.png"), full_page=True, mask=masks)
            if device == "laptop":
                assert page.locator("#billable-days").is_visible()
            page.context.close()

    shots = sorted(SHOTS.glob("*.png"))
    assert len(shots) == len(pages) * len(VIEWPORTS)
    baseline = os.environ.get("RELINK_SCREENS_BASELINE")
    if baseline:
        changed = {
            shot.name: share
            for shot in shots
            if (share := differing_share(Path(baseline) / shot.name, shot)) > 0.002
        }
        assert changed == {}, f"these pages look different from {baseline}: {changed}"
