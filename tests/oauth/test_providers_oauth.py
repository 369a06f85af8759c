"""Gusto and Deel at the httpx boundary (respx), with answers shaped like their public
references: the code exchange (PKCE verifier, client authentication where each provider wants
it), the sync with a refresh ahead of expiry (single-use refresh tokens: sent once), and what a
dead grant or a missing permission does to the account."""

import base64
import time
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from accounts.models import LinkedAccount
from issues.models import Issue
from syncs import integrations
from syncs.models import Employee, OAuthToken
from syncs.runs import sync_run_account

pytestmark = pytest.mark.django_db

GUSTO = "https://api.gusto.com"
COMPANY = "c4f1d2e3-0a9b-4c8d-9e7f-6a5b4c3d2e1f"
GUSTO_EMPLOYEE = {
    "uuid": "9d3e2c1b-7a6f-4e5d-8c9b-0a1f2e3d4c5b",
    "first_name": "Isom",
    "last_name": "Jaskolski",
    "preferred_first_name": None,
    "email": "isom@example.org",
    "work_email": "isom.jaskolski@acme.example",
    "phone": "5555550100",
    "terminated": False,
    "onboarded": True,
    "company_uuid": COMPANY,
    "jobs": [{"primary": True, "title": "Client Support Director", "hire_date": "2020-01-20"}],
    "terminations": [],
}
DEEL_TOKENS = "https://app.deel.com/oauth2/tokens"
DEEL_PEOPLE = "https://api.letsdeel.com/rest/v2/people"
DEEL_PERSON = {
    "id": "8f9e0d1c-2b3a-4c5d-6e7f-8a9b0c1d2e3f",
    "worker_id": 1207,
    "first_name": "Ana",
    "last_name": "Souza",
    "full_name": "Ana Souza",
    "emails": [
        {"type": "work", "value": "ana@acme.example"},
        {"type": "personal", "value": "ana@example.org"},
    ],
    "hiring_status": "active",
    "start_date": "2023-04-03",
    "created_at": "2023-03-20T10:00:00.000Z",
}


@pytest.fixture(autouse=True)
def client_credentials(settings):
    settings.GUSTO_CLIENT_ID, settings.GUSTO_CLIENT_SECRET = "gusto-client", "gusto-secret"
    settings.DEEL_CLIENT_ID, settings.DEEL_CLIENT_SECRET = "deel-client", "deel-secret"


def _expired(access: str, refresh: str, scope: str = "") -> dict:
    return {"access_token": access, "refresh_token": refresh, "expires_at": time.time() - 60, "scope": scope}


def _form(request: httpx.Request) -> dict:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


@respx.mock
def test_gusto_code_exchange_sends_the_pkce_verifier_and_the_secret_in_the_body():
    route = respx.post(f"{GUSTO}/oauth/token").respond(
        200,
        json={"access_token": "gat1", "refresh_token": "grt1", "token_type": "bearer", "expires_in": 7200},
    )
    gusto = integrations.get("gusto")
    url = gusto.authorization_url(
        redirect_uri="https://relink.example/link/oauth/callback", state="s1", code_verifier="v" * 50
    )
    assert (
        url.startswith(f"{GUSTO}/oauth/authorize?")
        and "code_challenge_method=S256" in url
        and "client_id=gusto-client" in url
    )
    tokens = gusto.exchange_code(
        code="c1", code_verifier="v" * 50, redirect_uri="https://relink.example/link/oauth/callback"
    )
    form = _form(route.calls.last.request)
    assert form["grant_type"] == "authorization_code" and form["code_verifier"] == "v" * 50
    assert form["client_id"] == "gusto-client" and form["client_secret"] == "gusto-secret"
    assert tokens.access_token == "gat1" and tokens.expires_at > time.time() + 7000


@respx.mock
def test_gusto_sync_refreshes_once_then_reads_employees(owner):
    account, _ = owner.linked_account(
        origin_id="g1", integration="gusto", credentials=_expired("gat0", "grt0")
    )
    token = respx.post(f"{GUSTO}/oauth/token").respond(
        200,
        json={"access_token": "gat1", "refresh_token": "grt1", "token_type": "bearer", "expires_in": 7200},
    )
    info = respx.get(f"{GUSTO}/v1/token_info").respond(
        200, json={"scope": "employees:read", "resource": {"type": "Company", "uuid": COMPANY}}
    )
    respx.get(f"{GUSTO}/v1/companies/{COMPANY}/employees").respond(200, json=[GUSTO_EMPLOYEE])
    run = sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE", run.error_message
    assert token.call_count == 1 and _form(token.calls.last.request)["refresh_token"] == "grt0"
    assert info.calls.last.request.headers["Authorization"] == "Bearer gat1"
    employee = Employee.objects.get(linked_account=account)
    assert employee.work_email == "isom.jaskolski@acme.example" and employee.employment_status == "ACTIVE"
    assert employee.start_date.date().isoformat() == "2020-01-20"
    # The next run uses the rotated tokens as they are: the spent refresh token is never sent again.
    assert sync_run_account(account_id=str(account.pk), trigger="forced").status == "DONE"
    assert token.call_count == 1
    assert OAuthToken.objects.get(pk=account.pk).generation == 1


@respx.mock
def test_gusto_revoked_grant_is_invalid_api_key(owner):
    account, _ = owner.linked_account(
        origin_id="g2", integration="gusto", credentials=_expired("gat0", "grt0")
    )
    respx.post(f"{GUSTO}/oauth/token").respond(
        400,
        json={
            "error": "invalid_grant",
            "error_description": "The provided authorization grant is invalid, expired, revoked",
        },
    )
    run = sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "FAILED" and run.error_class == "credentials_rejected"
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
    issue = Issue.objects.get(linked_account=account)
    assert issue.error_description == "Invalid API key"
    assert "invalid_grant" in issue.error_details[0] and "grt0" not in issue.error_details[0]


@respx.mock
def test_deel_refresh_uses_basic_auth_and_syncs_people(owner):
    account, _ = owner.linked_account(
        origin_id="d1", integration="deel", credentials=_expired("dat0", "drt0", "people:read")
    )
    token = respx.post(DEEL_TOKENS).respond(
        200,
        json={
            "access_token": "dat1",
            "refresh_token": "drt1",
            "token_type": "Bearer",
            "expires_in": 2592000,
            "scope": "people:read",
        },
    )
    respx.get(DEEL_PEOPLE).respond(
        200, json={"data": [DEEL_PERSON], "page": {"total_rows": 1, "offset": 0, "items_per_page": 100}}
    )
    run = sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE", run.error_message
    request = token.calls.last.request
    expected = base64.b64encode(b"deel-client:deel-secret").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert "client_secret" not in _form(request) and _form(request)["refresh_token"] == "drt0"
    person = Employee.objects.get(linked_account=account)
    assert (person.work_email, person.personal_email, person.employee_number) == (
        "ana@acme.example",
        "ana@example.org",
        "1207",
    )


@respx.mock
def test_deel_missing_scope_is_missing_permissions(owner):
    account, _ = owner.linked_account(
        origin_id="d2",
        integration="deel",
        credentials={
            "access_token": "dat0",
            "refresh_token": "drt0",
            "expires_at": time.time() + 3600,
            "scope": "people:read",
        },
    )
    respx.get(DEEL_PEOPLE).respond(
        403,
        json={"errors": [{"message": "Insufficient scope"}]},
        headers={
            "WWW-Authenticate": 'Bearer error="insufficient_scope", error_description="people:read required"'
        },
    )
    assert sync_run_account(account_id=str(account.pk), trigger="forced").status == "FAILED"
    issue = Issue.objects.get(linked_account=account)
    assert issue.error_description == "Missing permissions" and "insufficient_scope" in issue.error_details[0]


def test_unconfigured_provider_is_refused_on_the_link_page(owner, client, settings):
    settings.GUSTO_CLIENT_ID = ""
    from tests.linking.helpers import create_link_token

    link = create_link_token(owner, integration="gusto")
    page = client.get(f"/link/{link['link_token']}/gusto/oauth")
    assert page.status_code == 200 and "not set up on this server" in page.content.decode()


@respx.mock
def test_invalid_grant_after_a_relink_mid_refresh_uses_the_new_grant(owner):
    """The refresh answered invalid_grant because the end user relinked meanwhile (the old
    grant was replaced): the refresher re-reads the account and uses the new tokens. Not a
    failure: no issue, the account stays COMPLETE."""
    from accounts.services import linked_account_set_credentials

    account, _ = owner.linked_account(
        origin_id="g3", integration="gusto", credentials=_expired("old-at", "old-rt")
    )
    new_grant = {
        "access_token": "new-at",
        "refresh_token": "new-rt",
        "expires_at": time.time() + 7200,
        "scope": "",
    }

    def relinked_meanwhile(request):
        linked_account_set_credentials(
            account=LinkedAccount.objects.get(pk=account.pk), credentials=new_grant
        )
        return httpx.Response(400, json={"error": "invalid_grant", "error_description": "revoked"})

    respx.post(f"{GUSTO}/oauth/token").mock(side_effect=relinked_meanwhile)
    info = respx.get(f"{GUSTO}/v1/token_info").respond(
        200, json={"resource": {"type": "Company", "uuid": COMPANY}}
    )
    respx.get(f"{GUSTO}/v1/companies/{COMPANY}/employees").respond(200, json=[GUSTO_EMPLOYEE])
    run = sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE", run.error_message
    assert info.calls.last.request.headers["Authorization"] == "Bearer new-at"
    assert not Issue.objects.filter(linked_account=account).exists()
    assert LinkedAccount.objects.get(pk=account.pk).status == "COMPLETE"
