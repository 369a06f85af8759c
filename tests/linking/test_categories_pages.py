"""The link page and the dashboard by category: an ATS link offers ATS integrations only, an
end user links the sandbox ATS through the page."""

import re

import pytest
from django.test import Client

from accounts.models import LinkedAccount

from .helpers import create_link_token

pytestmark = pytest.mark.django_db


def _offered(html: str, link_token: str) -> set[str]:
    return set(re.findall(rf'href="/link/{link_token}/([a-z_]+)"', html))


def test_the_link_page_offers_the_integrations_of_the_tokens_category(owner):
    for category, expected in (
        ("ats", {"sandbox_ats", "greenhouse"}),
        ("crm", {"sandbox_crm", "hubspot"}),
        ("hris", {"sandbox", "sandbox_oauth", "bamboohr", "hibob", "gusto", "deel"}),
    ):
        link_token = create_link_token(owner, origin_id=f"page-{category}", category=category)["link_token"]
        html = Client().get(f"/link/{link_token}").content.decode()
        assert _offered(html, link_token) == expected, category
        # Another category's integration is not on offer, even by its direct URL.
        other = "sandbox" if category != "hris" else "sandbox_ats"
        refused = Client().get(f"/link/{link_token}/{other}").content.decode()
        assert "This integration is not offered with this link." in refused


def test_an_end_user_links_the_sandbox_ats_through_the_page(owner, sandbox_provider):
    link_token = create_link_token(owner, origin_id="page-ats-link", category="ats")["link_token"]
    client = Client()
    form = client.get(f"/link/{link_token}/sandbox_ats").content.decode()
    assert "Connect Sandbox ATS" in form
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    done = client.post(
        f"/link/{link_token}/sandbox_ats/submit",
        {"csrfmiddlewaretoken": csrf, "credential-api_key": "sk_sandbox_page_ats"},
    )
    assert done.status_code == 200 and "Sandbox ATS is connected" in done.content.decode()
    account = LinkedAccount.objects.get(end_user_origin_id="page-ats-link")
    assert (account.category, account.integration, account.status) == ("ats", "sandbox_ats", "COMPLETE")
