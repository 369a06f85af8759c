"""Every dashboard page: renders for an operator, issues a constant number of SQL queries
whatever the rows, and is a 404 for another organization's operator."""

import html as html_lib
import re

from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import LinkedAccount
from issues.models import Issue, WebhookDelivery

from .conftest import PASSWORD, operator_client
from .seed import page_urls as seed_page_urls
from .seed import seed


def page_urls(data) -> dict[str, str]:
    account, _ = data["accounts"][1]
    return {
        **seed_page_urls(
            account=account,
            issue=Issue.objects.filter(linked_account=account).first(),
            endpoint=data["endpoint"],
            delivery=WebhookDelivery.objects.filter(endpoint=data["endpoint"]).order_by("id").first(),
        ),
        "home-test": "/?environment=test",
        "accounts": "/accounts",
        "accounts-filtered": "/accounts?status=COMPLETE&environment=production&q=acct&sort=name",
        "sync-badges": "/accounts/sync-badges?"
        + "&".join(f"account={a.id}" for a, _ in data["accounts"][:4]),
        "issues-resolved": "/issues?status=RESOLVED",
    }


def count_queries(client, url) -> int:
    """The queries of one request, with nothing cached (billing keeps the current month's
    totals for the day): the cold path, whichever page was counted before."""
    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
    return len(ctx.captured_queries)


def test_every_page_has_a_constant_query_count(owner, operator):
    small = seed(owner, 4, prefix="small")
    operator.get("/")  # the first request stores the current organization in the session
    counts_small = {name: count_queries(operator, url) for name, url in page_urls(small).items()}
    big = seed(owner, 24, prefix="big")
    counts_big = {name: count_queries(operator, url) for name, url in page_urls(big).items()}
    assert counts_big == counts_small
    assert max(counts_small.values()) <= 20, counts_small


def test_pages_show_the_seeded_data(owner, operator):
    data = seed(owner, 8)
    html = operator.get("/accounts", {"environment": "all"}).content.decode()
    assert html.count('data-account="') == 8
    assert operator.get("/accounts").content.decode().count('data-account="') == 6  # production only
    assert "acct-0" in html and 'class="badge RELINK_NEEDED"' in html
    account, _ = data["accounts"][1]
    page = operator.get(f"/accounts/{account.id}").content.decode()
    assert 'id="timeline"' in page and "Relink needed" in page
    # The other apps' panels load themselves into the page (and each is a page of its own).
    for panel in ("sync-runs", "issues", "relink"):
        url = f"/accounts/{account.id}/{panel}"
        assert f'hx-get="{url}" hx-trigger="load"' in page and f'href="{url}"' in page
    syncs = operator.get(f"/accounts/{account.id}/sync-runs", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in syncs  # a fragment
    assert "/v1/employees?page=2" in syncs  # request logs
    assert "INVALID_API_KEY" in syncs  # their error class
    assert 'id="success-chart"' in syncs
    assert 'hx-swap-oob="innerHTML:#data-counts">1 employee<' in syncs
    issues = operator.get(f"/accounts/{account.id}/issues", HTTP_HX_REQUEST="true").content.decode()
    assert "Invalid API key" in issues and "The credentials stopped working" in issues
    own_page = operator.get(f"/accounts/{account.id}/sync-runs").content.decode()
    assert "<html" in own_page and "/v1/employees?page=2" in own_page and "1 employee" in own_page
    issues = html_lib.unescape(operator.get("/issues").content.decode())
    assert issues.count('data-issue="') == Issue.objects.filter(organization=owner.organization).count()
    assert "client.hris.link_token.create(" in issues
    assert f'end_user_origin_id="{account.end_user_origin_id}"' in issues
    assert "/api/hris/v1/link-token" in issues
    webhooks = operator.get("/webhooks").content.decode()
    assert str(data["endpoint"].url) in webhooks
    assert webhooks.count('data-delivery="') >= 8


def test_accounts_list_filters_search_sort_and_pages(owner, operator):
    seed(owner, 6)
    html = operator.get("/accounts", {"status": "RELINK_NEEDED"}).content.decode()
    assert html.count('data-account="') == 2  # kinds 1 of 0..5: acct-1 and acct-5
    html = operator.get("/accounts", {"environment": "test"}).content.decode()
    assert html.count('data-account="') == 1
    html = operator.get("/accounts", {"q": "ACCT-4"}).content.decode()
    assert html.count('data-account="') == 1 and "acct-4" in html
    names = re.findall(
        r"<code>(acct-\d+)</code>", operator.get("/accounts", {"sort": "-origin"}).content.decode()
    )
    assert names == sorted(names, reverse=True)
    # Cursor paging: 6 accounts, pages of 50 -> no next; walk with a smaller page through the selector.
    from accounts.paging import keyset_page

    qs = LinkedAccount.objects.filter(organization=owner.organization)
    seen, cursor = [], None
    while True:
        page = keyset_page(
            queryset=qs, keys=("end_user_origin_id", "id"), descending=False, cursor=cursor, page_size=4
        )
        seen += [a.end_user_origin_id for a in page.rows]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == sorted(a.end_user_origin_id for a in qs)
    back = keyset_page(
        queryset=qs,
        keys=("end_user_origin_id", "id"),
        descending=False,
        cursor=page.previous_cursor,
        page_size=4,
    )
    assert [a.end_user_origin_id for a in back.rows] == seen[:4]
    assert operator.get("/accounts", {"cursor": "garbage"}).status_code == 400
    assert operator.get("/accounts", {"status": "NOPE"}).status_code == 400


def test_counts_per_status(owner, operator):
    seed(owner, 8)
    html = operator.get("/accounts", {"environment": "production"}).content.decode()
    counts = dict(re.findall(r'data-status="(\w+)"><span class="n">(\d+)</span>', html))
    assert counts == {"COMPLETE": "2", "INCOMPLETE": "2", "RELINK_NEEDED": "2", "IDLE": "0"}
    home = operator.get("/").content.decode()
    assert dict(re.findall(r'data-status="(\w+)"><span class="n">(\d+)</span>', home)) == counts


def test_home_chart_draws_today(owner, operator):
    seed(owner, 4)
    html = operator.get("/").content.decode()
    assert html.count("<rect") >= 3  # today's stacked bar: complete, relink needed, incomplete
    assert "c-RELINK_NEEDED" in html


def test_outsider_operator_gets_404_everywhere(owner, outsider_operator):
    data = seed(owner, 4)
    account, _ = data["accounts"][1]
    issue = Issue.objects.filter(linked_account=account).first()
    delivery = WebhookDelivery.objects.filter(endpoint=data["endpoint"]).first()
    client = outsider_operator
    for url in [
        f"/accounts/{account.id}",
        f"/accounts/{account.id}/sync-badge",
        f"/accounts/{account.id}/sync-runs",
        f"/accounts/{account.id}/issues",
        f"/accounts/{account.id}/relink",
        f"/accounts/{account.id}/delete",
        f"/issues/{issue.id}",
        f"/webhooks/{data['endpoint'].id}",
        f"/webhooks/deliveries/{delivery.id}",
        f"/billing?organization={owner.organization.id}",
        f"/accounts?organization={owner.organization.id}",
    ]:
        assert client.get(url).status_code == 404, url
    for url in [
        f"/accounts/{account.id}/resync",
        f"/accounts/{account.id}/relink-email",
        f"/accounts/{account.id}/magic-link",
        f"/accounts/{account.id}/delete",
        f"/issues/{issue.id}/mute",
        f"/webhooks/{data['endpoint'].id}/rotate-key",
        f"/webhooks/{data['endpoint'].id}/test",
        f"/webhooks/{data['endpoint'].id}/enabled",
        f"/webhooks/{data['endpoint'].id}/delete",
        f"/webhooks/deliveries/{delivery.id}/redeliver",
        "/organization",
    ]:
        assert client.post(url, {"organization": str(owner.organization.id)}).status_code == 404, url
    assert LinkedAccount.objects.filter(pk=account.pk).exists()
    # The outsider's own pages list nothing of the owner's.
    assert "acct-" not in client.get("/accounts").content.decode()
    assert 'data-issue="' not in client.get("/issues").content.decode()


def test_login_required_and_login_works(owner, db):
    client = Client()
    response = client.get("/accounts")
    assert response.status_code == 302 and response["Location"].startswith("/login")
    operator_client(username="lena", organizations=[owner.organization])
    fresh = Client()
    response = fresh.post("/login", {"username": "lena", "password": PASSWORD})
    assert response.status_code == 302
    assert fresh.get("/").status_code == 200
    assert fresh.post("/logout").status_code == 302
    assert fresh.get("/").status_code == 302


def test_a_user_without_organization_sees_a_plain_page(db):
    client = operator_client(username="nobody", organizations=[])
    response = client.get("/")
    assert response.status_code == 403
    assert b"not a member of any organization" in response.content


def test_organization_switcher(owner, outsider):
    client = operator_client(username="both", organizations=[owner.organization, outsider.organization])
    owner.linked_account(origin_id="owner-only")
    response = client.post(
        "/organization", {"organization": str(outsider.organization.id), "next": "/accounts"}
    )
    assert response.status_code == 302 and response["Location"] == "/accounts"
    assert "owner-only" not in client.get("/accounts").content.decode()
    client.post("/organization", {"organization": str(owner.organization.id), "next": "/accounts"})
    assert "owner-only" in client.get("/accounts").content.decode()
    assert client.post("/organization", {"organization": "not-a-uuid"}).status_code == 404
    # From another organization's detail page, the switch lands on the section's list.
    response = client.post(
        "/organization", {"organization": str(outsider.organization.id), "next": "/accounts/x/y"}
    )
    assert response["Location"] == "/accounts"
    assert (
        client.post(
            "/organization", {"organization": str(owner.organization.id), "next": "https://evil.example/"}
        )["Location"]
        == "/"
    )


def test_csrf_is_enforced_on_forms(owner):
    client = operator_client(username="csrf", organizations=[owner.organization])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(client.user)
    account, _ = owner.linked_account(origin_id="keep-me")
    assert strict.post(f"/accounts/{account.id}/delete", {"confirm_origin_id": "keep-me"}).status_code == 403
    assert strict.post("/settings/api-keys", {"environment": "TEST"}).status_code == 403
    assert strict.post("/webhooks", {"url": "http://127.0.0.1:9/x"}).status_code == 403
    assert LinkedAccount.objects.filter(pk=account.pk).exists()
    html = strict.get(f"/accounts/{account.id}").content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_accounts_page_cursor_walks_forward_and_back(owner, operator):
    for i in range(57):
        owner.linked_account(origin_id=f"p{i:02d}", complete=False)
    first = operator.get("/accounts").content.decode()
    ids_first = re.findall(r'data-account="([^"]+)"', first)
    assert len(ids_first) == 50
    next_url = html_lib.unescape(re.search(r'href="([^"]+)" rel="next"', first).group(1))
    second = operator.get("/accounts" + next_url).content.decode()
    ids_second = re.findall(r'data-account="([^"]+)"', second)
    assert len(ids_second) == 7 and not set(ids_first) & set(ids_second)
    assert 'rel="next"' not in second
    prev_url = html_lib.unescape(re.search(r'href="([^"]+)" rel="prev"', second).group(1))
    back = operator.get("/accounts" + prev_url).content.decode()
    assert re.findall(r'data-account="([^"]+)"', back) == ids_first
    # Newest first: the last created account leads the first page.
    assert "p56" in first.split('data-account="')[1]
