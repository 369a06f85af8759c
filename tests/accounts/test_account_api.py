import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AccountType, ApiKey, LinkedAccount, LinkedAccountStatusChange
from accounts.services import api_key_revoke
from tests.conftest import wait_until

URL = "/api/hris/v1"


@pytest.mark.django_db
class TestAuthentication:
    def test_missing_authorization_names_the_header(self, owner):
        response = owner.client().__class__().get(f"{URL}/linked-accounts")
        assert response.status_code == 401
        assert response.json()["header"] == "Authorization"

    def test_wrong_key_names_the_header(self, owner):
        client = owner.client()
        client.credentials(HTTP_AUTHORIZATION="Bearer rl_live_not-a-real-key")
        response = client.get(f"{URL}/linked-accounts")
        assert response.status_code == 401
        assert response.json()["header"] == "Authorization"
        assert "Invalid API key" in response.json()["detail"]

    def test_malformed_authorization(self, owner):
        client = owner.client()
        client.credentials(HTTP_AUTHORIZATION=f"Token {owner.production_key}")
        assert client.get(f"{URL}/linked-accounts").status_code == 401

    def test_missing_account_token_names_the_header(self, owner):
        response = owner.client().get(f"{URL}/account-details")
        assert response.status_code == 401
        assert response.json()["header"] == "X-Account-Token"

    def test_unknown_account_token_names_the_header(self, owner):
        response = owner.client(account_token="nope").get(f"{URL}/account-details")
        assert response.status_code == 401
        assert response.json()["header"] == "X-Account-Token"

    def test_another_organizations_token_is_rejected_and_reveals_nothing(self, owner, outsider):
        account, token = outsider.linked_account()
        response = owner.client(account_token=token).get(f"{URL}/account-details")
        assert response.status_code == 401
        assert str(account.id) not in response.content.decode()

    def test_test_key_cannot_use_a_production_account_token(self, owner):
        _, token = owner.linked_account(account_type=AccountType.PRODUCTION)
        assert owner.client(test=True, account_token=token).get(f"{URL}/account-details").status_code == 401

    def test_organization_endpoints_ignore_account_token(self, owner):
        owner.linked_account()
        response = owner.client(account_token="garbage").get(f"{URL}/linked-accounts")
        assert response.status_code == 200


def _key_queries(ctx) -> int:
    return sum('"accounts_apikey"' in q["sql"] for q in ctx.captured_queries)


@pytest.mark.django_db
class TestApiKeyCache:
    """A web process trusts a key it has checked for API_KEY_CACHE_SECONDS, no longer."""

    def test_a_checked_key_is_not_looked_up_again_until_its_entry_expires(self, owner, settings):
        # Seconds, not a fraction: the second request comes well within the entry's life even on
        # a loaded machine; the expiry is then waited for by its positive sign (a lookup again).
        settings.API_KEY_CACHE_SECONDS = 3
        client = owner.client()
        with CaptureQueriesContext(connection) as first:
            assert client.get(f"{URL}/linked-accounts").status_code == 200
        checked_at = time.monotonic()
        with CaptureQueriesContext(connection) as again:
            assert client.get(f"{URL}/linked-accounts").status_code == 200
        assert (_key_queries(first), _key_queries(again)) == (1, 0)

        def looked_up_again() -> bool:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(f"{URL}/linked-accounts").status_code == 200
            return _key_queries(ctx) == 1

        wait_until(looked_up_again, timeout=30, interval=0.25, message="the key looked up again")
        assert time.monotonic() - checked_at >= 3  # not before the entry's time was up

    def test_a_revoked_key_is_refused_once_the_entry_expires(self, owner, settings):
        settings.API_KEY_CACHE_SECONDS = 2
        client = owner.client()
        assert client.get(f"{URL}/linked-accounts").status_code == 200
        api_key_revoke(
            key=ApiKey.objects.get(organization=owner.organization, environment=AccountType.PRODUCTION)
        )
        # Refused as soon as the entry's time is up (waited for by the refusal itself).
        response = wait_until(
            lambda: (r := client.get(f"{URL}/linked-accounts")).status_code == 401 and r,
            timeout=30,
            interval=0.25,
            message="the revoked key refused",
        )
        assert response.json()["header"] == "Authorization"
        # A refused key is not remembered either: each try is checked again.
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"{URL}/linked-accounts").status_code == 401
        assert _key_queries(ctx) == 1

    @pytest.mark.parametrize(
        ("cache_seconds", "raw_key", "status"),
        [(60, "rl_live_not-a-real-key", 401), (0, None, 200)],
        ids=["unknown-keys-are-never-cached", "zero-turns-the-cache-off"],
    )
    def test_every_request_looks_the_key_up(self, owner, settings, cache_seconds, raw_key, status):
        settings.API_KEY_CACHE_SECONDS = cache_seconds
        client = owner.client()
        if raw_key:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        for _ in range(2):
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(f"{URL}/linked-accounts").status_code == status
            assert _key_queries(ctx) == 1


@pytest.mark.django_db
class TestAccountDetails:
    def test_fields(self, owner):
        account, token = owner.linked_account(origin_id="cust-42")
        response = owner.client(account_token=token).get(f"{URL}/account-details")
        assert response.status_code == 200
        body = response.json()
        assert body == {
            "id": str(account.id),
            "integration": "Sandbox HRIS",
            "integration_slug": "sandbox",
            "category": "hris",
            "end_user_origin_id": "cust-42",
            "end_user_organization_name": "cust-42 Inc",
            "end_user_email_address": "cust-42@example.com",
            "status": "COMPLETE",
            # No listener URL set: absent (a URL or nothing, never "").
            "is_duplicate": None,
            "account_type": "PRODUCTION",
            "completed_at": body["completed_at"],
        }
        assert body["completed_at"].endswith("Z")  # UTC, one format in every answer

    def test_unknown_category_is_404(self, owner):
        _, token = owner.linked_account()
        assert owner.client(account_token=token).get("/api/payroll/v1/account-details").status_code == 404


@pytest.mark.django_db
class TestLinkedAccounts:
    def test_test_key_never_sees_production_accounts(self, owner):
        prod, _ = owner.linked_account(origin_id="p", account_type=AccountType.PRODUCTION)
        test, _ = owner.linked_account(origin_id="t", account_type=AccountType.TEST)
        ids = [r["id"] for r in owner.client(test=True).get(f"{URL}/linked-accounts").json()["results"]]
        assert ids == [str(test.id)]
        ids = [r["id"] for r in owner.client().get(f"{URL}/linked-accounts").json()["results"]]
        assert ids == [str(prod.id)]
        # Asking a production key for test accounts yields nothing rather than leaking them.
        assert owner.client().get(f"{URL}/linked-accounts?is_test_account=true").json()["results"] == []

    def test_outsider_sees_nothing(self, owner, outsider):
        account, _ = owner.linked_account()
        response = outsider.client().get(f"{URL}/linked-accounts?id={account.id}")
        assert response.status_code == 200
        assert response.json()["results"] == []

    def test_item_shape(self, owner):
        account, _ = owner.linked_account(complete=False)
        item = owner.client().get(f"{URL}/linked-accounts").json()["results"][0]
        assert item["status"] == "INCOMPLETE"
        # A date-time in this list whatever the status (Merge's schema): when linking started.
        assert item["completed_at"] == account.created_at.isoformat().replace("+00:00", "Z")
        assert item["status_detail"]
        assert item["integration"] == {
            "name": "Sandbox HRIS",
            "slug": "sandbox",
            "categories": ["hris"],
            "image": "",
            "square_image": "",
            "color": "#0EA5E9",
            "passthrough_available": False,
            "auth_type": "API_KEY",
        }

    @pytest.mark.parametrize(
        "query, expected",
        [
            ("status=RELINK_NEEDED", {"b"}),
            ("status=COMPLETE", {"a", "c"}),
            ("end_user_origin_id=a", {"a"}),
            ("end_user_origin_ids=a,c", {"a", "c"}),
            ("end_user_email_address=c@example.com", {"c"}),
            ("end_user_organization_name=b Inc", {"b"}),
            ("category=ats", {"c"}),
            ("integration_name=Sandbox HRIS", {"a", "b", "c"}),
            ("integration_name=BambooHR", set()),
            ("is_test_account=false", {"a", "b", "c"}),
        ],
    )
    def test_filters(self, owner, query, expected):
        from accounts.services import linked_account_mark_relink_needed

        owner.linked_account(origin_id="a")
        b, _ = owner.linked_account(origin_id="b")
        owner.linked_account(origin_id="c", category="ats")
        linked_account_mark_relink_needed(account=b, reason="test")
        response = owner.client().get(f"{URL}/linked-accounts?{query}")
        assert response.status_code == 200, response.json()
        assert {r["end_user_origin_id"] for r in response.json()["results"]} == expected

    def test_id_and_ids_filters(self, owner):
        a, _ = owner.linked_account(origin_id="a")
        b, _ = owner.linked_account(origin_id="b")
        owner.linked_account(origin_id="c")
        got = owner.client().get(f"{URL}/linked-accounts?id={a.id}").json()["results"]
        assert [r["id"] for r in got] == [str(a.id)]
        got = owner.client().get(f"{URL}/linked-accounts?ids={a.id},{b.id}").json()["results"]
        assert {r["id"] for r in got} == {str(a.id), str(b.id)}

    @pytest.mark.parametrize(
        "query, field",
        [
            ("status=BROKEN", "status"),
            ("page_size=0", "page_size"),
            ("page_size=abc", "page_size"),
            ("page_size=101", "page_size"),
            ("category=payroll", "category"),
            ("id=not-a-uuid", "id"),
            ("ids=a,b", "ids"),
            ("is_test_account=maybe", "is_test_account"),
            ("cursor=%%%", "cursor"),
            ("cursor=eyJkIjoibiIsInYiOiJ4In0", "cursor"),
        ],
    )
    def test_bad_filter_values_are_400_naming_the_field(self, owner, query, field):
        response = owner.client().get(f"{URL}/linked-accounts?{query}")
        assert response.status_code == 400
        assert field in response.json()

    def test_cursor_pagination_walks_forward_and_back_without_gaps(self, owner):
        created = [owner.linked_account(origin_id=f"o{i:02d}")[0] for i in range(25)]
        expected = [str(a.id) for a in reversed(created)]
        client = owner.client()
        seen, pages, url = [], [], f"{URL}/linked-accounts?page_size=10"
        while url:
            body = client.get(url).json()
            pages.append(body)
            seen += [r["id"] for r in body["results"]]
            url = f"{URL}/linked-accounts?page_size=10&cursor={body['next']}" if body["next"] else None
        assert seen == expected
        assert [len(p["results"]) for p in pages] == [10, 10, 5]
        assert pages[0]["previous"] is None
        back = client.get(f"{URL}/linked-accounts?page_size=10&cursor={pages[2]['previous']}").json()
        assert [r["id"] for r in back["results"]] == expected[10:20]

    def test_query_count_is_constant_whatever_the_page_size(self, owner):
        for i in range(30):
            owner.linked_account(origin_id=f"q{i}")
        client = owner.client()
        client.get(f"{URL}/linked-accounts")  # checks the API key (then cached for a few seconds)
        counts = []
        for size in (1, 10, 30):
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(f"{URL}/linked-accounts?page_size={size}")
            assert len(response.json()["results"]) == size
            counts.append(len(ctx.captured_queries))
        assert counts[0] == counts[1] == counts[2]
        assert counts[0] == 1  # the page

    def test_account_details_query_count(self, owner):
        _, token = owner.linked_account()
        client = owner.client(account_token=token)
        client.get(f"{URL}/account-details")  # records the inbound use once, checks the key
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"{URL}/account-details").status_code == 200
        assert len(ctx.captured_queries) == 1  # the account (the API key was checked just now)


@pytest.mark.django_db
class TestDeleteAndRegenerate:
    def test_delete_purges_account_keeps_history_and_frees_origin_id(self, owner):
        account, token = owner.linked_account(origin_id="gone")
        client = owner.client(account_token=token)
        response = client.post(f"{URL}/delete-account")
        assert response.status_code == 200
        assert not LinkedAccount.objects.filter(pk=account.pk).exists()
        history = list(
            LinkedAccountStatusChange.objects.filter(linked_account_uuid=account.id).order_by("id")
        )
        assert [h.to_status for h in history] == ["INCOMPLETE", "COMPLETE", "DELETED"]
        assert client.get(f"{URL}/account-details").status_code == 401
        again, _ = owner.linked_account(origin_id="gone")
        assert again.id != account.id

    def test_regenerate_replaces_the_token_at_once(self, owner):
        account, old = owner.linked_account()
        response = owner.client(account_token=old).post(f"{URL}/account-token/regenerate")
        assert response.status_code == 200
        new = response.json()["account_token"]
        assert response.json()["linked_account_id"] == str(account.id)
        assert new != old
        assert owner.client(account_token=old).get(f"{URL}/account-details").status_code == 401
        assert owner.client(account_token=new).get(f"{URL}/account-details").status_code == 200


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/{category}/v1/linked-accounts" in response.content
    assert client.get("/api/docs/").status_code == 200
