"""What the accessibility browser tests share: one Chromium per module (Debian's, through
Playwright), axe-core runs that keep the serious and critical violations, screenshots, and a
logged-in operator page."""

import contextlib
import shutil
from pathlib import Path

import pytest
from django.db import connections

from tests.dashboard.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"


def shots_dir(name: str) -> Path:
    """test-output/<name>: where a browser test module keeps its screenshots."""
    return Path(__file__).resolve().parents[2] / "test-output" / name


SHOTS = shots_dir("a11y")
VIEWPORTS = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
BLOCKING = ("serious", "critical")


def require_chromium() -> None:
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
    )


@contextlib.contextmanager
def chromium(monkeypatch, shots: Path):
    """Debian's Chromium through Playwright for one test (skipped where it is missing), with the
    screenshots directory made. Playwright's sync API keeps an event loop in this thread; the
    test's ORM calls are still plain synchronous ones."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def axe_violations(page, name: str) -> list[str]:
    """axe-core (every rule it ships, WCAG 2.x A/AA and best practices) on the page as it is now;
    one line per serious or critical violation, naming the elements."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    return [
        f"{name}: {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:4]}"
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]


def overflow(page, name: str, width: int) -> list[str]:
    """The page may not scroll sideways: only the tables' own scrolling boxes may be wider."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    return [f"{name}: {scroll_width}px wide on a {width}px screen"] if scroll_width > width else []


def shot(page, name: str, shots: Path = SHOTS) -> None:
    """A full-page screenshot, shots/<name>.png."""
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def browser_fixture(shots: Path):
    """A test module's `browser` fixture: a Chromium of its own for each test (`chromium`), and
    the database connections its ORM calls opened closed afterwards."""

    @pytest.fixture
    def browser(monkeypatch):
        with chromium(monkeypatch, shots) as browser:
            yield browser
        connections.close_all()

    return browser


def login(context, base_url: str, username: str):
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page


# WCAG contrast in the page itself: relative luminance of computed colours, against the first
# opaque background behind the element.
_CONTRAST_JS = """
window.__contrast = (() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c.a > 0) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.name ? "[name=" + el.name + "]" : "");
  return {
    borders: (minimum) => [...document.querySelectorAll("input, select, textarea")]
      .filter((el) => visible(el) && !["hidden", "checkbox", "radio"].includes(el.type))
      .map((el) => [name(el), ratio(parse(getComputedStyle(el).borderTopColor), background(el.parentElement))])
      .filter(([, r]) => r < minimum),
    text: (selector, minimum) => [...document.querySelectorAll(selector)].filter(visible)
      .map((el) => [name(el) + "." + el.className + " " + el.textContent.trim(), ratio(parse(getComputedStyle(el).color), background(el))])
      .filter(([, r]) => r < minimum),
    focusRing: () => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      if (style.outlineStyle === "none" || parseFloat(style.outlineWidth) < 2) return 0;
      return ratio(parse(style.outlineColor), background(el.parentElement));
    },
  };
})();
"""


def _contrast(page) -> None:
    if not page.evaluate("Boolean(window.__contrast)"):
        page.evaluate(_CONTRAST_JS)


def control_borders(page, name: str, minimum: float = 3.0) -> list[str]:
    """Form controls whose border is below 3:1 against what surrounds them (WCAG 1.4.11)."""
    _contrast(page)
    return [f"{name}: {el} border {r:.2f}:1" for el, r in page.evaluate(f"__contrast.borders({minimum})")]


def text_contrast(page, name: str, selector: str, minimum: float) -> list[str]:
    _contrast(page)
    return [
        f"{name}: {el} text {r:.2f}:1" for el, r in page.evaluate(f"__contrast.text({selector!r}, {minimum})")
    ]


def focus_ring_contrast(page) -> float:
    """The contrast of the focused element's outline against its surroundings (0: no outline)."""
    _contrast(page)
    return page.evaluate("__contrast.focusRing()")
