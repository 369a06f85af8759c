"""BambooHR integration at the httpx boundary (respx), with answers shaped like BambooHR's
public API reference: the cursor-paged employee list on the API gateway, Basic auth with the
API key as user name, 503 + Retry-After throttling, 404 for an unknown company."""

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from accounts.models import LinkedAccount
from issues.models import Issue
from syncs import credentials, integrations, runs
from syncs.integrations.base import ErrorClass, RecordError
from syncs.models import Employee, RequestLog
from tests.syncs.conftest import fetch_all, no_sleep, raised_error_class, validate

API_KEY = "b4f1c0ffee1234567890abcdefbamboo"
CREDS = {"company_domain": "acme", "api_key": API_KEY}
LIST_URL = "https://api.bamboohr.com/api/gateway.php/acme/v1/employees"


def employee(emp_id, first, last, **extra):
    record = {
        "employeeId": str(emp_id),
        "firstName": first,
        "lastName": last,
        "preferredName": None,
        "photoUrl": f"https://images7.bamboohr.com/12345/photos/{emp_id}-0-4.jpg",
        "jobTitleName": "Software Engineer",
        "status": "Active",
        "_restrictedFields": [],
        "displayName": f"{first} {last}",
        "employeeNumber": str(100 + int(emp_id)),
        "workEmail": f"{first.lower()}.{last.lower()}@acme.example",
        "homeEmail": None,
        "mobilePhone": "801-555-0100",
        "hireDate": "2019-03-11",
        "terminationDate": None,
    }
    record.update(extra)
    return record


def page(records, next_cursor=None, total=None, links_only=False):
    meta_page = {"limit": 100, "nextCursor": None if links_only else next_cursor, "prevCursor": None}
    links = {"self": LIST_URL}
    if next_cursor:
        links["next"] = f"{LIST_URL}?page%5Blimit%5D=100&page%5Bafter%5D={next_cursor}"
    return {"data": records, "meta": {"total": total or len(records), "page": meta_page}, "_links": links}


FUTURE_HIRE = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
PAGE_1 = page(
    [
        employee(
            4,
            "Charlotte",
            "Abbott",
            homeEmail="charlotte@example.org",
            hireDate="2016-06-06",
            gender="Female",
            maritalStatus="Single",
            dateOfBirth="1990-05-17",
            ethnicity="Decline to state",
        ),
        employee(5, "Ashley", "Adams", preferredName="Ash", displayName=None),
        employee(6, "Christopher", "Barnes", status="Inactive", terminationDate="2023-12-31"),
    ],
    next_cursor="eyJsYXN0SWQiOjZ9",
    total=5,
)
PAGE_2 = page(
    [
        employee(7, "Shannon", "Anderson", hireDate=FUTURE_HIRE),
        employee(
            8, "Dorothy", "Chou", hireDate="0000-00-00", workEmail=None, _restrictedFields=["workEmail"]
        ),
    ],
    total=5,
)


def _list_route(mock, *responses):
    return mock.get(LIST_URL).mock(side_effect=list(responses))


def _basic_user(request) -> str:
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(encoded).decode().split(":", 1)[0]


# --- catalogue and credentials --------------------------------------------------------------------
def test_registered_with_the_credentials_a_customer_has():
    integration = integrations.get("bamboohr")
    fields = {f.name: f for f in integration.credential_fields}
    assert set(fields) == {"company_domain", "api_key"}
    assert fields["api_key"].secret and not fields["company_domain"].secret
    from accounts import catalog

    assert catalog.get("bamboohr").name == "BambooHR"
    assert [f.name for f in catalog.get("bamboohr").credential_fields] == ["company_domain", "api_key"]


@pytest.mark.django_db
def test_validate_success_makes_one_cheap_authenticated_request():
    with respx.mock(assert_all_called=True) as mock:
        route = _list_route(mock, httpx.Response(200, json=page([employee(4, "Charlotte", "Abbott")])))
        check = credentials.credentials_validate(integration="bamboohr", credentials=CREDS)
    assert check.ok, check.message
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.url.params["page[limit]"] == "1"
    assert _basic_user(request) == API_KEY
    assert request.headers["Accept"] == "application/json"
    log = RequestLog.objects.get()
    assert log.status_code == 200 and API_KEY not in log.url


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "description"),
    [(401, "Invalid API key"), (403, "Missing permissions"), (404, "Invalid API key")],
)
def test_validate_rejections(status, description):
    with respx.mock() as mock:
        _list_route(mock, httpx.Response(status, text=""))
        check = credentials.credentials_validate(integration="bamboohr", credentials=CREDS)
    assert not check.ok
    assert check.error_description == description
    assert API_KEY not in check.message


@pytest.mark.django_db
def test_pasted_address_is_reduced_to_the_subdomain_and_garbage_is_refused_without_a_request():
    with respx.mock() as mock:
        route = _list_route(mock, httpx.Response(200, json=page([])))
        pasted = credentials.credentials_validate(
            integration="bamboohr",
            credentials={"company_domain": "https://ACME.bamboohr.com/home", "api_key": "k1"},
        )
        assert pasted.ok and route.call_count == 1
        for bad in ("acme/../../evil", "evil.com#", "a b", "-acme"):
            check = credentials.credentials_validate(
                integration="bamboohr", credentials={"company_domain": bad, "api_key": "k1"}
            )
            assert not check.ok and check.error_description == "Invalid API key"
        assert route.call_count == 1  # nothing was sent for the bad ones
    missing = credentials.credentials_validate(integration="bamboohr", credentials={"api_key": "k1"})
    assert not missing.ok and "Company subdomain" in missing.message


# --- fetch, paging, mapping -----------------------------------------------------------------------
def test_fetch_follows_the_cursor_and_maps_every_record():
    integration = integrations.get("bamboohr")
    session = integration.session(CREDS)
    with respx.mock() as mock:
        route = _list_route(mock, httpx.Response(200, json=PAGE_1), httpx.Response(200, json=PAGE_2))
        pages = list(integration.fetch_pages(CREDS, session, "hris.Employee"))
    assert [len(p) for p in pages] == [3, 2]
    first, second = (call.request for call in route.calls)
    assert "page[after]" not in first.url.params
    assert second.url.params["page[after]"] == "eyJsYXN0SWQiOjZ9"
    assert first.url.params["page[limit]"] == "100"
    assert set(first.url.params["fields"].split(",")) >= {
        "workEmail",
        "homeEmail",
        "hireDate",
        "employeeNumber",
    }
    assert all(_basic_user(c.request) == API_KEY for c in route.calls)

    mapped = {
        r["remote_id"]: r for r in (integration.map_record("hris.Employee", raw) for p in pages for raw in p)
    }
    assert set(mapped) == {"4", "5", "6", "7", "8"}
    charlotte = mapped["4"]
    assert charlotte == {
        "remote_id": "4",
        "employee_number": "104",
        "first_name": "Charlotte",
        "last_name": "Abbott",
        "display_full_name": "Charlotte Abbott",
        "work_email": "charlotte.abbott@acme.example",
        "personal_email": "charlotte@example.org",
        "mobile_phone_number": "801-555-0100",
        "employment_status": "ACTIVE",
        "start_date": datetime(2016, 6, 6, tzinfo=UTC),
        "termination_date": None,
        "remote_created_at": None,
        "preferred_name": None,
        "hire_date": datetime(2016, 6, 6, tzinfo=UTC),
        "gender": "FEMALE",
        "marital_status": "SINGLE",
        "ethnicity": "PREFER_NOT_TO_DISCLOSE",
        "date_of_birth": datetime(1990, 5, 17, tzinfo=UTC),
        "ssn": None,  # not readable by this key's user: null, as for any field the provider withholds
        "avatar": "https://images7.bamboohr.com/12345/photos/4-0-4.jpg",
    }
    assert mapped["5"]["display_full_name"] == "Ash Adams"  # preferred first name, Merge's rule
    assert mapped["6"]["employment_status"] == "INACTIVE"
    assert mapped["6"]["termination_date"] == datetime(2023, 12, 31, tzinfo=UTC)
    assert mapped["7"]["employment_status"] == "PENDING"  # hired, starts next month
    assert mapped["8"]["start_date"] is None and mapped["8"]["work_email"] is None


def test_next_cursor_from_links_when_meta_has_none():
    integration = integrations.get("bamboohr")
    with respx.mock() as mock:
        route = _list_route(
            mock,
            httpx.Response(200, json=page([employee(1, "A", "B")], next_cursor="c2", links_only=True)),
            httpx.Response(200, json=page([employee(2, "C", "D")])),
        )
        pages = fetch_all(integration, CREDS, "hris.Employee")
    assert len(pages) == 2 and route.calls[1].request.url.params["page[after]"] == "c2"


def test_a_repeated_cursor_is_a_bad_response_not_an_endless_loop():
    integration = integrations.get("bamboohr")
    looping = page([employee(1, "A", "B")], next_cursor="same")
    with respx.mock() as mock:
        route = _list_route(mock, *[httpx.Response(200, json=looping) for _ in range(5)])
        raised = raised_error_class(fetch_all, integration, CREDS, "hris.Employee")
    assert raised == ErrorClass.BAD_RESPONSE
    assert route.call_count == 2


def test_unmappable_records_raise_record_error():
    integration = integrations.get("bamboohr")
    with pytest.raises(RecordError):
        integration.map_record("hris.Employee", {"firstName": "No", "lastName": "Id"})
    with pytest.raises(RecordError):
        integration.map_record("hris.Employee", employee(9, "Bad", "Date", hireDate="06/06/2016"))


# --- rate limits and faults -------------------------------------------------------------------------
def test_429_is_retried_after_the_retry_after_wait(monkeypatch):
    waits = no_sleep(monkeypatch)
    integration = integrations.get("bamboohr")
    with respx.mock() as mock:
        route = _list_route(
            mock,
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json=page([employee(1, "A", "B")])),
        )
        session = integration.session(CREDS)
        pages = list(integration.fetch_pages(CREDS, session, "hris.Employee"))
    assert waits == [7.0] and route.call_count == 2 and len(pages[0]) == 1
    assert [entry.status_code for entry in session.log] == [429, 200]


def test_bamboohr_throttling_503_with_retry_after_is_a_rate_limit(monkeypatch, settings):
    settings.SYNC_RATE_LIMIT_RETRIES = 2
    waits = no_sleep(monkeypatch)
    integration = integrations.get("bamboohr")
    throttled = httpx.Response(503, headers={"Retry-After": "3"})
    with respx.mock() as mock:
        route = _list_route(mock, throttled, throttled, throttled)
        raised = raised_error_class(fetch_all, integration, CREDS, "hris.Employee")
    assert raised == ErrorClass.RATE_LIMITED
    assert route.call_count == 3 and waits == [3.0, 3.0]
    # A plain 503 (no Retry-After) is an outage, not retried.
    with respx.mock() as mock:
        route = _list_route(mock, httpx.Response(503))
        raised = raised_error_class(fetch_all, integration, CREDS, "hris.Employee")
    assert raised == ErrorClass.PROVIDER_OFFLINE and route.call_count == 1


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(
            200, content=b'{"data": [{"employeeId": "1", ', headers={"Content-Type": "application/json"}
        ),
        httpx.Response(
            200, text="<html><body>Log in to BambooHR</body></html>", headers={"Content-Type": "text/html"}
        ),
        httpx.Response(200, json={"employees": []}),
    ],
    ids=["malformed-json", "html-login-page", "no-data-list"],
)
def test_unusable_answers_are_bad_responses(response):
    integration = integrations.get("bamboohr")
    with respx.mock() as mock:
        _list_route(mock, response)
        raised = raised_error_class(fetch_all, integration, CREDS, "hris.Employee")
    assert raised == ErrorClass.BAD_RESPONSE


def test_timeouts_and_refused_connections_are_provider_offline():
    integration = integrations.get("bamboohr")
    for fault in (httpx.ConnectTimeout("slow"), httpx.ConnectError("refused")):
        with respx.mock() as mock:
            _list_route(mock, fault)
            raised = raised_error_class(validate, integration, CREDS)
        assert raised == ErrorClass.PROVIDER_OFFLINE


# --- through the sync service -------------------------------------------------------------------------
@pytest.mark.django_db
def test_sync_run_stores_employees_then_keeps_them_when_bamboohr_breaks(owner):
    account, _ = owner.linked_account(origin_id="bhr-1", integration="bamboohr", credentials=dict(CREDS))
    with respx.mock() as mock:
        _list_route(mock, httpx.Response(200, json=PAGE_1), httpx.Response(200, json=PAGE_2))
        run = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE" and run.records_created == 5 and run.requests_total == 2
    stored = Employee.objects.filter(linked_account=account)
    assert stored.count() == 5
    assert stored.get(remote_id="6").employment_status == "INACTIVE"
    logs = list(RequestLog.objects.filter(sync_run=run))
    assert len(logs) == 2 and all(API_KEY not in log.url for log in logs)

    # Page 2 comes back broken: the run fails, the good data stays as it was.
    with respx.mock() as mock:
        _list_route(
            mock,
            httpx.Response(200, json=PAGE_1),
            httpx.Response(200, content=b"{not json", headers={"Content-Type": "application/json"}),
        )
        failed = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert failed.status == "FAILED" and failed.error_class == "bad_response"
    assert Employee.objects.filter(linked_account=account, remote_was_deleted=False).count() == 5

    # The key is revoked in BambooHR: 401 -> Relink Needed with an Invalid API key issue.
    with respx.mock() as mock:
        _list_route(mock, httpx.Response(401, text=""))
        rejected = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert rejected.status == "FAILED" and rejected.error_class == "credentials_rejected"
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
    issue = Issue.objects.get(linked_account=account)
    assert issue.error_description == "Invalid API key" and issue.status == "ONGOING"
    assert API_KEY not in json.dumps(issue.error_details)
    assert Employee.objects.filter(linked_account=account).count() == 5


@pytest.mark.django_db
def test_nul_characters_in_provider_text_are_dropped_not_a_database_error(owner):
    # JSON allows "\u0000" in a string; PostgreSQL text does not.
    account, _ = owner.linked_account(origin_id="bhr-nul", integration="bamboohr", credentials=dict(CREDS))
    records = [employee(7, "Nu\x00ll", "Byte\x00", workEmail="nul\x00@acme.example", employeeId="7\x00")]
    with respx.mock() as mock:
        _list_route(mock, httpx.Response(200, json=page(records)))
        run = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE" and run.records_created == 1
    stored = Employee.objects.get(linked_account=account)
    assert (stored.remote_id, stored.first_name, stored.last_name) == ("7", "Null", "Byte")
    assert stored.work_email == "nul@acme.example"
