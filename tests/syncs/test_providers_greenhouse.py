"""Greenhouse Harvest at the httpx boundary (respx), with answers shaped like Harvest's public
reference: GET /v1/candidates, Basic auth with the key as user name and a blank password,
paging through the Link header, {"message": ...} errors, 429 with Retry-After."""

import base64

import httpx
import pytest
import respx

from accounts.models import LinkedAccount
from issues.models import Issue
from syncs import integrations, runs
from syncs.integrations.base import ErrorClass
from syncs.models import Candidate, RequestLog
from tests.syncs.conftest import fetch_all, no_sleep, raised_error_class, validate

API_KEY = "a7183e1b7e9ab09b8a5cfa87d1934c3c"
CREDS = {"api_key": API_KEY}
LIST_URL = "https://harvest.greenhouse.io/v1/candidates"


def candidate(cid, first, last, **extra):
    record = {
        "id": cid,
        "first_name": first,
        "last_name": last,
        "company": "Initech",
        "title": "Engineer",
        "created_at": "2017-08-15T03:31:46.637Z",
        "updated_at": "2017-09-28T12:29:30.497Z",
        "last_activity": "2017-09-28T12:29:30.481Z",
        "is_private": False,
        "photo_url": None,
        "attachments": [],
        "application_ids": [59724],
        "phone_numbers": [{"value": "555-1212", "type": "mobile"}],
        "addresses": [{"value": "123 Fake St.", "type": "home"}],
        "email_addresses": [
            {"value": f"{first.lower()}@example.com", "type": "personal"},
            {"value": f"{first.lower()}@work.example", "type": "work"},
        ],
        "website_addresses": [{"value": f"{first.lower()}.example.com", "type": "personal"}],
        "social_media_addresses": [{"value": f"linkedin.example/{first.lower()}"}],
        "recruiter": None,
        "coordinator": None,
        "can_email": True,
        "tags": ["Python", "Ruby"],
        "applications": [],
        "educations": [],
        "employments": [],
        "custom_fields": {},
    }
    record.update(extra)
    return record


def link(page):
    return {
        "Link": f'<{LIST_URL}?page={page}&per_page=500>; rel="next", <{LIST_URL}?page=9&per_page=500>; rel="last"'
    }


PAGE_1 = [candidate(53883394, "Ada", "Lovelace"), candidate(53883395, "Grace", "Hopper", is_private=True)]
PAGE_2 = [candidate(53883396, "Alan", "Turing", tags=[], can_email=False, website_addresses=[])]


def _basic(request) -> str:
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(encoded).decode()


def test_registered_as_an_ats_with_one_api_key():
    integration = integrations.get("greenhouse")
    assert integration.categories == ("ats",) and integration.common_models == ("ats.Candidate",)
    assert [(f.name, f.secret) for f in integration.credential_fields] == [("api_key", True)]


def test_validate_is_one_small_basic_authenticated_request():
    integration = integrations.get("greenhouse")
    with respx.mock() as mock:
        route = mock.get(LIST_URL).mock(return_value=httpx.Response(200, json=PAGE_1[:1]))
        integration.validate(CREDS, integration.session(CREDS))
    request = route.calls.last.request
    assert _basic(request) == f"{API_KEY}:" and request.url.params["per_page"] == "1"


def test_fetch_follows_the_link_header_and_maps_to_merge_candidates():
    integration = integrations.get("greenhouse")
    with respx.mock() as mock:
        route = mock.get(LIST_URL).mock(
            side_effect=[httpx.Response(200, json=PAGE_1, headers=link(2)), httpx.Response(200, json=PAGE_2)]
        )
        session = integration.session(CREDS)
        pages = list(integration.fetch_pages(CREDS, session, "ats.Candidate"))
    assert [len(p) for p in pages] == [2, 1] and route.call_count == 2
    assert route.calls[0].request.url.params["per_page"] == "500"
    assert route.calls[1].request.url.params["page"] == "2"
    assert all(API_KEY not in entry.url for entry in session.log)

    ada = integration.map_record("ats.Candidate", pages[0][0])
    assert ada["remote_id"] == "53883394" and ada["company"] == "Initech" and ada["can_email"] is True
    assert ada["email_addresses"] == [
        {"value": "ada@example.com", "email_address_type": "PERSONAL"},
        {"value": "ada@work.example", "email_address_type": "WORK"},
    ]
    assert ada["phone_numbers"] == [{"value": "555-1212", "phone_number_type": "MOBILE"}]
    assert ada["urls"] == [
        {"value": "ada.example.com", "url_type": "PERSONAL"},
        {"value": "linkedin.example/ada", "url_type": "SOCIAL_MEDIA"},
    ]
    assert ada["locations"] == ["123 Fake St."] and ada["tags"] == ["Python", "Ruby"]
    assert ada["last_interaction_at"].isoformat() == "2017-09-28T12:29:30.481000+00:00"


def test_a_next_link_to_another_host_is_not_followed_with_the_credentials():
    integration = integrations.get("greenhouse")
    elsewhere = {"Link": '<https://evil.example/v1/candidates?page=2>; rel="next"'}
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(return_value=httpx.Response(200, json=PAGE_1, headers=elsewhere))
        raised = raised_error_class(fetch_all, integration, CREDS, "ats.Candidate")
    assert raised == ErrorClass.BAD_RESPONSE


@pytest.mark.parametrize(
    ("status", "body", "error_class"),
    [
        (401, {"message": "Invalid Basic Auth credentials"}, ErrorClass.CREDENTIALS_REJECTED),
        (
            403,
            {"message": "This API Key does not have permission for this endpoint"},
            ErrorClass.MISSING_PERMISSIONS,
        ),
        (500, {"message": "Internal Server Error"}, ErrorClass.PROVIDER_OFFLINE),
        (503, None, ErrorClass.PROVIDER_OFFLINE),
    ],
    ids=["bad-key", "endpoint-not-allowed", "server-error", "unavailable"],
)
def test_harvest_error_answers_classify_as_for_hris(status, body, error_class):
    integration = integrations.get("greenhouse")
    response = (
        httpx.Response(status, json=body) if body else httpx.Response(status, text="Service Unavailable")
    )
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(return_value=response)
        raised = raised_error_class(validate, integration, CREDS)
    assert raised == error_class


def test_429_is_retried_after_retry_after_then_rate_limited(monkeypatch, settings):
    settings.SYNC_RATE_LIMIT_RETRIES = 2
    waits = no_sleep(monkeypatch)
    integration = integrations.get("greenhouse")
    limited = httpx.Response(
        429,
        json={"message": "Rate limit exceeded"},
        headers={"Retry-After": "4", "X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "0"},
    )
    with respx.mock() as mock:
        route = mock.get(LIST_URL).mock(side_effect=[limited, httpx.Response(200, json=PAGE_2)])
        assert len(next(integration.fetch_pages(CREDS, integration.session(CREDS), "ats.Candidate"))) == 1
    assert waits == [4.0] and route.call_count == 2
    with respx.mock() as mock:
        route = mock.get(LIST_URL).mock(side_effect=[limited, limited, limited])
        raised = raised_error_class(fetch_all, integration, CREDS, "ats.Candidate")
    assert raised == ErrorClass.RATE_LIMITED and route.call_count == 3


@pytest.mark.django_db
def test_a_candidate_without_an_id_is_skipped_and_the_run_is_partially_synced(owner):
    account, token = owner.linked_account(
        origin_id="gh-1", category="ats", integration="greenhouse", credentials=dict(CREDS)
    )
    without_id = candidate(None, "No", "Id")
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(return_value=httpx.Response(200, json=[*PAGE_1, without_id]))
        run = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "PARTIALLY_SYNCED" and run.records_skipped == 1 and run.records_created == 2
    assert sorted(Candidate.objects.filter(linked_account=account).values_list("remote_id", flat=True)) == [
        "53883394",
        "53883395",
    ]
    rows = owner.client(account_token=token).get("/api/ats/v1/sync-status").json()["results"]
    assert rows[0]["status"] == "PARTIALLY_SYNCED"


@pytest.mark.django_db
def test_a_revoked_harvest_key_means_relink_needed_and_keeps_the_candidates(owner):
    account, token = owner.linked_account(
        origin_id="gh-2", category="ats", integration="greenhouse", credentials=dict(CREDS)
    )
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(
            side_effect=[httpx.Response(200, json=PAGE_1, headers=link(2)), httpx.Response(200, json=PAGE_2)]
        )
        assert runs.sync_run_account(account_id=str(account.pk), trigger="forced").status == "DONE"
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(
            return_value=httpx.Response(401, json={"message": "Invalid Basic Auth credentials"})
        )
        run = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "FAILED" and run.error_class == "credentials_rejected"
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
    assert Issue.objects.get(linked_account=account).error_description == "Invalid API key"
    listed = owner.client(account_token=token).get("/api/ats/v1/candidates").json()["results"]
    assert len(listed) == 3
    assert all(API_KEY not in log.url for log in RequestLog.objects.filter(linked_account=account))


@pytest.mark.django_db
def test_nul_characters_inside_lists_are_dropped_not_a_database_error(owner):
    # JSON allows "\u0000" in a string; PostgreSQL jsonb does not.
    account, token = owner.linked_account(
        origin_id="gh-nul", category="ats", integration="greenhouse", credentials=dict(CREDS)
    )
    odd = candidate(
        7,
        "Nul\u0000l",
        "Byte",
        tags=["a\u0000b"],
        email_addresses=[{"value": "x\u0000@y.example", "type": "work"}],
    )
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(return_value=httpx.Response(200, json=[odd]))
        run = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE"
    [stored] = owner.client(account_token=token).get("/api/ats/v1/candidates").json()["results"]
    assert stored["first_name"] == "Null" and stored["tags"] == ["ab"]
    assert stored["email_addresses"] == [{"value": "x@y.example", "email_address_type": "WORK"}]
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(return_value=httpx.Response(200, json=[odd]))
        again = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert (again.records_created, again.records_updated) == (0, 0)
