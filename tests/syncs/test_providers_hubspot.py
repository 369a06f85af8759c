"""HubSpot CRM contacts over OAuth 2.0, at the httpx boundary (respx), with answers shaped like
HubSpot's public reference: the consent URL and the code exchange (client secret in the form
body, PKCE verifier, ``expires_in`` 1800 and ``scopes`` as a list), the refresh ahead of expiry,
a dead refresh token in both of HubSpot's shapes (-> Invalid API key, RELINK_NEEDED), and the
contacts API (GET /crm/v3/objects/contacts paged by paging.next.after) with its
{"status": "error", "category": ...} errors classified exactly as for HRIS."""

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from accounts.models import LinkedAccount
from issues.models import Issue
from syncs import integrations, runs
from syncs.integrations.base import ErrorClass, ProviderError
from syncs.models import Contact, OAuthToken
from tests.linking.helpers import create_link_token
from tests.syncs.conftest import no_sleep

LIST_URL = "https://api.hubapi.com/crm/v3/objects/contacts"
TOKEN_URL = "https://api.hubapi.com/oauth/2026-03/token"
CALLBACK = "https://relink.example/link/oauth/callback"
SCOPES = ["oauth", "crm.objects.contacts.read"]


@pytest.fixture(autouse=True)
def client_credentials(settings):
    settings.HUBSPOT_CLIENT_ID, settings.HUBSPOT_CLIENT_SECRET = "hs-client-id", "hs-client-secret"


def tokens(access: str, refresh: str) -> dict:
    """HubSpot's token answer (code exchange and refresh alike)."""
    return {
        "token_type": "bearer",
        "refresh_token": refresh,
        "access_token": access,
        "expires_in": 1800,
        "hub_id": 62515,
        "scopes": SCOPES,
    }


def linked(access="hs-at-0", refresh="hs-rt-0", *, expired=False) -> dict:
    """An account's credentials as the code exchange stored them."""
    ends = time.time() + (-60 if expired else 1700)
    return {"access_token": access, "refresh_token": refresh, "expires_at": ends, "scope": " ".join(SCOPES)}


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


def _form(request: httpx.Request) -> dict:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def _sync(account):
    return runs.sync_run_account(account_id=str(account.pk), trigger="forced")


# --- OAuth ----------------------------------------------------------------------------------------
def test_declares_hubspots_oauth_facts():
    hubspot = integrations.get("hubspot")
    assert hubspot.categories == ("crm",) and hubspot.common_models == ("crm.Contact",)
    assert str(hubspot.auth_type) == "OAUTH2" and hubspot.credential_fields == ()
    assert hubspot.endpoints() == {
        "authorize": "https://app.hubspot.com/oauth/authorize",
        "token": TOKEN_URL,
        "revoke": "https://api.hubapi.com/oauth/2026-03/token/revoke",
    }
    assert hubspot.required_scopes == ("crm.objects.contacts.read",)
    assert hubspot.idle_expiry_days is None  # refresh tokens do not die unused


@respx.mock
def test_consent_url_and_code_exchange():
    hubspot = integrations.get("hubspot")
    url = hubspot.authorization_url(redirect_uri=CALLBACK, state="s1", code_verifier="v" * 50)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://app.hubspot.com/oauth/authorize"
    assert query["client_id"] == "hs-client-id" and query["scope"] == "crm.objects.contacts.read"
    assert query["redirect_uri"] == CALLBACK and query["state"] == "s1"
    assert query["code_challenge_method"] == "S256" and "hs-client-secret" not in url

    route = respx.post(TOKEN_URL).respond(200, json=tokens("hs-at-1", "hs-rt-1"))
    got = hubspot.exchange_code(code="hs-code", code_verifier="v" * 50, redirect_uri=CALLBACK)
    form = _form(route.calls.last.request)
    assert form["grant_type"] == "authorization_code" and form["code"] == "hs-code"
    assert form["code_verifier"] == "v" * 50 and form["redirect_uri"] == CALLBACK
    assert (form["client_id"], form["client_secret"]) == ("hs-client-id", "hs-client-secret")
    assert got.access_token == "hs-at-1" and got.refresh_token == "hs-rt-1"
    assert 1700 < got.expires_at - time.time() <= 1800
    assert "crm.objects.contacts.read" in got.scope and hubspot.missing_scopes(got.scope) == []


@pytest.mark.django_db
@respx.mock
def test_the_link_page_links_hubspot_through_the_consent_flow(owner, client):
    link = create_link_token(owner, origin_id="hs-page", category="crm")["link_token"]
    page = client.get(f"/link/{link}/hubspot").content.decode()
    assert "Continue with HubSpot" in page and 'name="credential-' not in page
    started = client.get(f"/link/{link}/hubspot/oauth")
    assert started.status_code == 302 and started["Location"].startswith(
        "https://app.hubspot.com/oauth/authorize?"
    )
    state = parse_qs(urlsplit(started["Location"]).query)["state"][0]
    exchange = respx.post(TOKEN_URL).respond(200, json=tokens("hs-at-1", "hs-rt-1"))
    back = client.get("/link/oauth/callback", {"state": state, "code": "hs-code"})
    assert back.status_code == 200 and "Connected" in back.content.decode()
    assert exchange.call_count == 1
    account = LinkedAccount.objects.get(end_user_origin_id="hs-page")
    assert (account.category, account.integration, account.status) == ("crm", "hubspot", "COMPLETE")


@pytest.mark.django_db
@respx.mock
def test_sync_refreshes_the_expired_token_once_then_reads_contacts(owner):
    account, token = owner.linked_account(
        origin_id="hs-1", category="crm", integration="hubspot", credentials=linked(expired=True)
    )
    refresh = respx.post(TOKEN_URL).respond(200, json=tokens("hs-at-1", "hs-rt-1"))
    pages = respx.get(LIST_URL).mock(
        side_effect=[httpx.Response(200, json=PAGE_1), httpx.Response(200, json=PAGE_2)] * 2
    )
    run = _sync(account)
    assert run.status == "DONE", run.error_message
    assert run.model_counts["crm.Contact"]["created"] == 3
    form = _form(refresh.calls.last.request)
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "hs-rt-0"
    assert form["client_secret"] == "hs-client-secret" and "scope" not in form
    assert {c.request.headers["Authorization"] for c in pages.calls} == {"Bearer hs-at-1"}
    # The next sync uses the refreshed token as it is (30 minutes: no refresh).
    assert _sync(account).status == "DONE" and refresh.call_count == 1
    assert OAuthToken.objects.get(pk=account.pk).generation == 1
    served = owner.client(account_token=token).get("/api/crm/v1/contacts").json()["results"]
    assert sorted(c["remote_id"] for c in served) == ["51", "52", "53"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {
            "error": "invalid_grant",
            "error_description": "refresh token is invalid, expired or revoked",
            "status": "BAD_REFRESH_TOKEN",
            "message": "refresh token is invalid, expired or revoked",
        },
        {"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"},
    ],
    ids=["rfc6749-and-hubspot-fields", "hubspot-fields-only"],
)
@respx.mock
def test_a_dead_refresh_token_is_invalid_api_key_and_relink_needed(owner, body):
    account, token = owner.linked_account(
        origin_id="hs-2", category="crm", integration="hubspot", credentials=linked(expired=True)
    )
    respx.post(TOKEN_URL).respond(400, json=body)
    contacts = respx.get(LIST_URL).respond(200, json=PAGE_2)
    run = _sync(account)
    assert run.status == "FAILED" and run.error_class == ErrorClass.CREDENTIALS_REJECTED
    assert contacts.call_count == 0
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
    issue = Issue.objects.get(linked_account=account)
    assert issue.error_description == "Invalid API key"
    assert "invalid_grant" in issue.error_details[0] and "hs-rt-0" not in issue.error_details[0]


# --- the contacts API -----------------------------------------------------------------------------
def test_fetch_pages_by_after_and_maps_merge_contacts():
    hubspot = integrations.get("hubspot")
    creds = linked()
    with respx.mock() as mock:
        route = mock.get(LIST_URL).mock(
            side_effect=[httpx.Response(200, json=PAGE_1), httpx.Response(200, json=PAGE_2)]
        )
        pages = list(hubspot.fetch_pages(creds, hubspot.session(creds), "crm.Contact"))
    assert [len(p) for p in pages] == [2, 1]
    first, second = (call.request for call in route.calls)
    assert first.headers["Authorization"] == "Bearer hs-at-0" and "after" not in first.url.params
    assert second.url.params["after"] == "NTI1Cg%3D%3D" and first.url.params["limit"] == "100"
    assert "notes_last_updated" in first.url.params["properties"].split(",")

    brian = hubspot.map_record("crm.Contact", pages[0][0])
    assert brian["remote_id"] == "51" and (brian["first_name"], brian["last_name"]) == ("Brian", "Halligan")
    assert brian["email_addresses"] == [
        {"email_address": "brian@hubspot.example", "email_address_type": "work"},
        {"email_address": "bh@old.example", "email_address_type": "other"},
        {"email_address": "brian@side.example", "email_address_type": "other"},
    ]
    assert brian["phone_numbers"] == [{"phone_number": "+1 617 555 0100", "phone_number_type": "work"}]
    assert brian["addresses"][0]["city"] == "Cambridge" and brian["addresses"][0]["postal_code"] == "02141"
    assert brian["last_activity_at"].isoformat() == "2020-01-02T10:00:00+00:00"
    dharmesh = hubspot.map_record("crm.Contact", pages[0][1])
    assert dharmesh["addresses"] == [] and dharmesh["phone_numbers"][1]["phone_number_type"] == "mobile"


def test_a_repeated_cursor_is_a_bad_response():
    hubspot = integrations.get("hubspot")
    looping = {"results": [], "paging": {"next": {"after": "x"}}}
    with respx.mock() as mock:
        mock.get(LIST_URL).respond(200, json=looping)
        with pytest.raises(ProviderError) as exc:
            list(hubspot.fetch_pages(linked(), hubspot.session(linked()), "crm.Contact"))
    assert exc.value.error_class == ErrorClass.BAD_RESPONSE


UNAUTHORIZED = error("INVALID_AUTHENTICATION", "Authentication credentials not found.")
EXPIRED = error("EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired 1 hour(s) ago.")
MISSING_SCOPES = error(
    "MISSING_SCOPES",
    "This app hasn't been granted all required scopes to make this call.",
    errors=[
        {
            "message": "One or more of the following scopes are required.",
            "context": {"requiredGranularScopes": ["crm.objects.contacts.read"]},
        }
    ],
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "body", "error_class", "description"),
    [
        (401, UNAUTHORIZED, ErrorClass.CREDENTIALS_REJECTED, "Invalid API key"),
        (401, EXPIRED, ErrorClass.CREDENTIALS_REJECTED, "Invalid API key"),
        (403, MISSING_SCOPES, ErrorClass.MISSING_PERMISSIONS, "Missing permissions"),
        (502, None, ErrorClass.PROVIDER_OFFLINE, "Third-party offline"),
        (
            503,
            error("INTERNAL_ERROR", "Service unavailable"),
            ErrorClass.PROVIDER_OFFLINE,
            "Third-party offline",
        ),
    ],
    ids=["no-credentials", "expired-token", "missing-scope", "bad-gateway", "unavailable"],
)
@respx.mock
def test_contacts_api_errors_classify_as_for_hris(owner, status, body, error_class, description):
    account, _ = owner.linked_account(
        origin_id=f"hs-{status}", category="crm", integration="hubspot", credentials=linked()
    )
    refresh = respx.post(TOKEN_URL).respond(200, json=tokens("hs-at-1", "hs-rt-1"))
    answer = (
        httpx.Response(status, json=body) if body else httpx.Response(status, text="<html>Bad Gateway</html>")
    )
    contacts = respx.get(LIST_URL).mock(return_value=answer)
    run = _sync(account)
    assert run.status == "FAILED" and run.error_class == error_class
    issue = Issue.objects.get(linked_account=account)
    assert issue.error_description == description
    if body:
        assert body["category"] in issue.error_details[0]  # HubSpot's category names the cause
    if status == 401:
        # A 401 refreshes once and retries with the new token before it counts as rejected.
        assert refresh.call_count == 1 and contacts.call_count == 2
        assert contacts.calls.last.request.headers["Authorization"] == "Bearer hs-at-1"
    else:
        assert refresh.call_count == 0 and contacts.call_count == 1
    # Rejected credentials, or a run whose every request failed: Relink Needed, as for HRIS.
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"


@pytest.mark.django_db
@respx.mock
def test_429s_are_retried_then_rate_limited(owner, monkeypatch, settings):
    settings.SYNC_RATE_LIMIT_RETRIES = 2
    waits = no_sleep(monkeypatch)
    account, _ = owner.linked_account(
        origin_id="hs-429", category="crm", integration="hubspot", credentials=linked()
    )
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
    route = respx.get(LIST_URL).mock(side_effect=[rolling, httpx.Response(200, json=PAGE_2)])
    assert _sync(account).status == "DONE"
    assert route.call_count == 2 and waits == [2.0]

    daily = httpx.Response(
        429,
        json=error(
            "RATE_LIMITS", "You have reached your daily limit.", errorType="RATE_LIMIT", policyName="DAILY"
        ),
    )
    respx.reset()
    route = respx.get(LIST_URL).mock(return_value=daily)
    run = _sync(account)
    assert run.error_class == ErrorClass.RATE_LIMITED and route.call_count == 3
    assert Issue.objects.get(linked_account=account).error_description == "Rate limited"


@pytest.mark.django_db
@respx.mock
def test_a_contact_without_an_id_is_skipped_and_the_run_is_partially_synced(owner):
    account, _ = owner.linked_account(
        origin_id="hs-3", category="crm", integration="hubspot", credentials=linked()
    )
    broken = {"properties": {"firstname": "No", "lastname": "Id"}, "archived": False}
    respx.get(LIST_URL).respond(200, json={"results": [*PAGE_2["results"], broken]})
    run = _sync(account)
    assert run.status == "PARTIALLY_SYNCED" and run.records_skipped == 1
    assert list(Contact.objects.filter(linked_account=account).values_list("remote_id", flat=True)) == ["53"]


@pytest.mark.django_db
@respx.mock
def test_an_account_linked_with_a_private_app_token_still_syncs_until_rejected(owner):
    """Accounts linked before HubSpot went OAuth hold a private app's token (no refresh token,
    no stated end): it signs the calls as it is; once HubSpot rejects it there is nothing to
    refresh with, so it is Invalid API key and the end user relinks (by consent)."""
    account, _ = owner.linked_account(
        origin_id="hs-pat", category="crm", integration="hubspot", credentials={"access_token": "pat-na1-1"}
    )
    refresh = respx.post(TOKEN_URL).respond(200, json=tokens("hs-at-1", "hs-rt-1"))
    contacts = respx.get(LIST_URL).respond(200, json=PAGE_2)
    assert _sync(account).status == "DONE"
    assert contacts.calls.last.request.headers["Authorization"] == "Bearer pat-na1-1"
    contacts.respond(401, json=UNAUTHORIZED)
    run = _sync(account)
    assert run.error_class == ErrorClass.CREDENTIALS_REJECTED and refresh.call_count == 0
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
