"""The Chromium the axe tests drive (tests/e2e/browsing.py), one per test module."""

import pytest
from django.db import connections

from .browsing import launch, require_chromium


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, and Django then refuses ORM
    # calls from it; the tests' own ORM calls are plain synchronous ones.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = launch(playwright)
        yield browser
        browser.close()
    connections.close_all()
