"""HubSpot CRM contacts at the httpx boundary (respx), with answers shaped like HubSpot's public
reference: GET /crm/v3/objects/contacts paged by paging.next.after, Bearer tokens, and its
{"status": "error", "category": ...} errors (401 INVALID_AUTHENTICATION, 403 MISSING_SCOPES,
429 RATE_LIMIT with a policyName)."""

import httpx
import pytest
import respx

from accounts.models import LinkedAccount
from issues.models import Issue
from syncs import integrations, runs
from syncs.integrations.base import ErrorClass
from syncs.models import Contact
from tests.syncs.conftest import fetch_all, no_sleep, raised_error_class, validate

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
CREDS = {"access_token": TOKEN}
LIST_URL = "https://api.hubapi.com/crm/v3/objects/contacts"


def contact(cid, first, last, **props):
    properties = {
        "createdate": "2019-10-30T03:30:17.883Z",
        "email": f"{first.lower()}@hubspot.example",
        "firstname": first,
        "hs_object_id": str(cid),
        "lastmodifieddate": "2019-12-07T16:50:06.678Z",
        "lastname": last,
        "phone": "+1 617 555 0100",
        "mobilephone": None,
        "address": "25 First Street",
        "city": "Cambridge",
        "state": "MA",
        "zip": "02141",
        "country": "United States",
        "hs_additional_emails": None,
        "notes_last_updated": "2020-01-02T10:00:00Z",
    }
    properties.update(props)
    return {
        "id": str(cid),
        "properties": properties,
        "createdAt": "2019-10-30T03:30:17.883Z",
        "updatedAt": "2019-12-07T16:50:06.678Z",
        "archived": False,
    }


PAGE_1 = {
    "results": [
        contact(51, "Brian", "Halligan", hs_additional_emails="bh@old.example;brian@side.example"),
        contact(
            52,
            "Dharmesh",
            "Shah",
            mobilephone="+1 617 555 0199",
            address=None,
            city=None,
            state=None,
            zip=None,
            country=None,
        ),
    ],
    "paging": {"next": {"after": "NTI1Cg%3D%3D", "link": f"{LIST_URL}?after=NTI1Cg%3D%3D"}},
}
PAGE_2 = {"results": [contact(53, "Maria", "Sanchez")]}


def error(category, message, **extra):
    return {
        "status": "error",
        "message": message,
        "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
        "category": category,
        **extra,
    }


def test_registered_as_a_crm_declaring_its_oauth_facts():
    integration = integrations.get("hubspot")
    assert integration.categories == ("crm",) and integration.common_models == ("crm.Contact",)
    from syncs.integrations.hubspot import OAUTH

    assert OAUTH["scopes"] == ("crm.objects.contacts.read",)
    assert OAUTH["token_url"] == "https://api.hubapi.com/oauth/v1/token"


def test_fetch_pages_by_after_with_a_bearer_token_and_maps_merge_contacts():
    integration = integrations.get("hubspot")
    with respx.mock() as mock:
        route = mock.get(LIST_URL).mock(
            side_effect=[httpx.Response(200, json=PAGE_1), httpx.Response(200, json=PAGE_2)]
        )
        session = integration.session(CREDS)
        pages = list(integration.fetch_pages(CREDS, session, "crm.Contact"))
    assert [len(p) for p in pages] == [2, 1]
    first, second = (call.request for call in route.calls)
    assert first.headers["Authorization"] == f"Bearer {TOKEN}" and "after" not in first.url.params
    assert second.url.params["after"] == "NTI1Cg%3D%3D" and first.url.params["limit"] == "100"
    assert "notes_last_updated" in first.url.params["properties"].split(",")

    brian = integration.map_record("crm.Contact", pages[0][0])
    assert brian["remote_id"] == "51" and (brian["first_name"], brian["last_name"]) == ("Brian", "Halligan")
    assert brian["email_addresses"] == [
        {"email_address": "brian@hubspot.example", "email_address_type": "work"},
        {"email_address": "bh@old.example", "email_address_type": "other"},
        {"email_address": "brian@side.example", "email_address_type": "other"},
    ]
    assert brian["phone_numbers"] == [{"phone_number": "+1 617 555 0100", "phone_number_type": "work"}]
    assert brian["addresses"][0]["city"] == "Cambridge" and brian["addresses"][0]["postal_code"] == "02141"
    assert brian["last_activity_at"].isoformat() == "2020-01-02T10:00:00+00:00"
    dharmesh = integration.map_record("crm.Contact", pages[0][1])
    assert dharmesh["addresses"] == [] and dharmesh["phone_numbers"][1]["phone_number_type"] == "mobile"


@pytest.mark.parametrize(
    ("status", "body", "error_class"),
    [
        (
            401,
            error("INVALID_AUTHENTICATION", "Authentication credentials not found."),
            ErrorClass.CREDENTIALS_REJECTED,
        ),
        (
            401,
            error("EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired 1 hour(s) ago."),
            ErrorClass.CREDENTIALS_REJECTED,
        ),
        (
            403,
            error(
                "MISSING_SCOPES",
                "This app hasn't been granted all required scopes to make this call.",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": ["crm.objects.contacts.read"]},
                    }
                ],
            ),
            ErrorClass.MISSING_PERMISSIONS,
        ),
        (502, None, ErrorClass.PROVIDER_OFFLINE),
    ],
    ids=["no-credentials", "expired-token", "missing-scope", "bad-gateway"],
)
def test_hubspot_error_answers_classify_as_for_hris(status, body, error_class):
    integration = integrations.get("hubspot")
    response = (
        httpx.Response(status, json=body)
        if body
        else httpx.Response(status, text="<html>502 Bad Gateway</html>")
    )
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(return_value=response)
        raised = raised_error_class(validate, integration, CREDS)
    assert raised == error_class


def test_429s_are_retried_then_rate_limited(monkeypatch, settings):
    settings.SYNC_RATE_LIMIT_RETRIES = 2
    waits = no_sleep(monkeypatch)
    integration = integrations.get("hubspot")
    rolling = httpx.Response(
        429,
        json=error(
            "RATE_LIMITS",
            "You have reached your ten_secondly_rolling limit.",
            errorType="RATE_LIMIT",
            policyName="TEN_SECONDLY_ROLLING",
        ),
        headers={"Retry-After": "2"},
    )
    with respx.mock() as mock:
        route = mock.get(LIST_URL).mock(side_effect=[rolling, httpx.Response(200, json=PAGE_2)])
        assert len(next(integration.fetch_pages(CREDS, integration.session(CREDS), "crm.Contact"))) == 1
    assert route.call_count == 2 and waits == [2.0]

    daily = httpx.Response(
        429,
        json=error(
            "RATE_LIMITS", "You have reached your daily limit.", errorType="RATE_LIMIT", policyName="DAILY"
        ),
    )
    with respx.mock() as mock:
        route = mock.get(LIST_URL).mock(return_value=daily)
        raised = raised_error_class(fetch_all, integration, CREDS, "crm.Contact")
    assert raised == ErrorClass.RATE_LIMITED and route.call_count == 3


@pytest.mark.django_db
def test_sync_stores_contacts_and_a_removed_scope_means_relink_needed(owner):
    account, token = owner.linked_account(
        origin_id="hs-1", category="crm", integration="hubspot", credentials=dict(CREDS)
    )
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(
            side_effect=[httpx.Response(200, json=PAGE_1), httpx.Response(200, json=PAGE_2)]
        )
        run = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE" and run.model_counts["crm.Contact"]["created"] == 3
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(
            return_value=httpx.Response(403, json=error("MISSING_SCOPES", "Missing scopes"))
        )
        failed = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert failed.status == "FAILED" and failed.error_class == "missing_permissions"
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
    assert Issue.objects.get(linked_account=account).error_description == "Missing permissions"
    served = owner.client(account_token=token).get("/api/crm/v1/contacts").json()["results"]
    assert sorted(c["remote_id"] for c in served) == ["51", "52", "53"]
    assert Contact.objects.filter(linked_account=account).count() == 3


@pytest.mark.django_db
def test_a_contact_without_an_id_is_skipped_and_the_run_is_partially_synced(owner):
    account, _ = owner.linked_account(
        origin_id="hs-2", category="crm", integration="hubspot", credentials=dict(CREDS)
    )
    broken = {"properties": {"firstname": "No", "lastname": "Id"}, "archived": False}
    with respx.mock() as mock:
        mock.get(LIST_URL).mock(
            return_value=httpx.Response(200, json={"results": [*PAGE_2["results"], broken]})
        )
        run = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "PARTIALLY_SYNCED" and run.records_skipped == 1
    assert list(Contact.objects.filter(linked_account=account).values_list("remote_id", flat=True)) == ["53"]
