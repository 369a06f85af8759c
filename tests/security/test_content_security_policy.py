"""Content-Security-Policy and embedding of the link page (issue 14, finding 6).

Defends against: any site framing the link page (clickjacking the end user's credential form),
the link page handing its public token to whatever window opened or framed it
(`postMessage(…, "*")`), the dashboard being framed, and injected markup running script: every
page carries a CSP without 'unsafe-inline', and no template holds inline script, inline style or
event-handler attributes that such a policy would have to allow.

Test by test (what each defends against):
- test_dashboard_login_and_admin_pages_carry_a_strict_csp_and_refuse_framing: script injection and
  clickjacking on operator pages.
- test_the_link_page_may_be_framed_only_by_the_organizations_origins: any site framing the end user's
  credential form.
- test_the_link_script_never_posts_to_any_origin: the public token posted to whatever window opened the page.
- test_the_settings_page_edits_the_embedding_origins_and_refuses_non_origins: wildcards, paths or CSP
  keywords smuggled into frame-ancestors.
- test_no_template_holds_inline_script_or_style: a template that needs 'unsafe-inline' (which would let
  injected markup run).
- test_htmx_injects_no_inline_style: htmx's injected style being blocked (broken indicators) or forcing
  'unsafe-inline'.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Organization
from tests.dashboard.conftest import operator_client
from tests.linking.helpers import create_link_token

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def operator(owner) -> Client:
    return operator_client(username="olivia", organizations=[owner.organization])


def _policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    assert header, f"no CSP on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def _strict(policy: dict[str, list[str]]) -> None:
    for directive in ("default-src", "script-src", "style-src"):
        assert policy.get(directive) == ["'self'"], (directive, policy)
    assert policy.get("object-src") == ["'none'"] and policy.get("base-uri") == ["'none'"]


def test_dashboard_login_and_admin_pages_carry_a_strict_csp_and_refuse_framing(owner, operator):
    pages = ["/", "/accounts", "/issues", "/webhooks", "/billing", "/settings"]
    for path in pages:
        response = operator.get(path)
        assert response.status_code == 200, path
        policy = _policy(response)
        _strict(policy)
        assert policy["frame-ancestors"] == ["'none'"], path
    anonymous = Client()
    for path in ["/login", "/admin/login/"]:
        response = anonymous.get(path)
        assert response.status_code == 200, path
        _strict(_policy(response))
        assert _policy(response)["frame-ancestors"] == ["'none'"]
    root = get_user_model().objects.create_superuser(username="root", password="root-password-1")
    admin = Client()
    admin.force_login(root)
    response = admin.get("/admin/issues/webhookendpoint/")
    assert _policy(response)["frame-ancestors"] == ["'none'"]


def test_the_link_page_may_be_framed_only_by_the_organizations_origins(owner):
    raw = create_link_token(owner)["link_token"]
    page = Client().get(f"/link/{raw}")
    assert page.status_code == 200
    _strict(_policy(page))
    # No origin configured: nobody may frame it and the page posts to nobody.
    assert _policy(page)["frame-ancestors"] == ["'none'"]
    assert 'data-embedding-origins=""' in page.content.decode()

    Organization.objects.filter(pk=owner.organization.pk).update(
        embedding_origins=["https://app.example.com", "https://admin.example.com:8443"]
    )
    for path in [f"/link/{raw}", f"/link/{raw}/sandbox"]:
        page = Client().get(path)
        assert _policy(page)["frame-ancestors"] == [
            "https://app.example.com",
            "https://admin.example.com:8443",
        ]
        assert 'data-embedding-origins="https://app.example.com https://admin.example.com:8443"' in (
            page.content.decode()
        )
    # A dead link's page too (it names no organization): nobody may frame it.
    assert _policy(Client().get("/link/lt_unknown"))["frame-ancestors"] == ["'none'"]


def test_the_link_script_never_posts_to_any_origin():
    script = (ROOT / "linking/static/linking/link.js").read_text()
    assert "postMessage" in script
    assert not re.search(r"postMessage\([^;]*[\"']\*[\"']", script, re.S)


def test_the_settings_page_edits_the_embedding_origins_and_refuses_non_origins(owner, operator):
    form = {"default_sync_frequency": "1h", "relink_support_text": "Call us", "relink_reminder_days": ""}
    response = operator.post(
        "/settings",
        {**form, "embedding_origins": "https://App.Example.com\nhttps://admin.example.com:8443/\n\n"},
    )
    assert response.status_code == 302
    owner.organization.refresh_from_db()
    assert owner.organization.embedding_origins == [
        "https://app.example.com",
        "https://admin.example.com:8443",
    ]
    assert "https://admin.example.com:8443" in operator.get("/settings").content.decode()

    for bad in ["*", "https://app.example.com/path", "javascript:alert(1)", "app.example.com",
                "https://*.example.com", "https://app.example.com?x=1", "ftp://files.example.com",
                "https://app.example.com 'unsafe-inline'", "https://user@app.example.com"]:  # fmt: skip
        response = operator.post("/settings", {**form, "embedding_origins": bad})
        assert response.status_code == 200, bad  # the form again, with the reason
        assert "is not an origin" in response.content.decode() or "use https" in response.content.decode(), (
            bad
        )
        owner.organization.refresh_from_db()
        assert owner.organization.embedding_origins == [
            "https://app.example.com",
            "https://admin.example.com:8443",
        ], bad


# Inline script, inline style, event-handler attributes and javascript: URLs in any template.
_INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+\s*=|javascript:", re.IGNORECASE
)


def test_no_template_holds_inline_script_or_style():
    templates = [
        p
        for p in ROOT.rglob("*.html")
        if ".venv" not in p.parts and "tests" not in p.parts and "test-output" not in p.parts
    ]
    assert len(templates) > 10
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0)}" for p in templates for m in _INLINE.finditer(p.read_text())
    ]
    assert not found, found


def test_htmx_injects_no_inline_style(owner, operator):
    """htmx adds a <style> element for its indicators unless told not to: the pages tell it."""
    for response in [
        operator.get("/accounts"),
        Client().get(f"/link/{create_link_token(owner)['link_token']}"),
    ]:
        assert '"includeIndicatorStyles":false' in response.content.decode().replace(" ", "")
