"""HiBob integration at the httpx boundary (respx), with answers shaped like Bob's public API
reference: POST /v1/people/search (bulk, no paging), Basic auth with the service user ID and
token, nested category objects and/or slash-notation keys, humanReadable APPEND, 429 with
X-RateLimit-Reset."""

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from accounts.models import LinkedAccount
from issues.models import Issue
from syncs import credentials, integrations, runs
from syncs.integrations.base import ErrorClass, RecordError
from syncs.models import Employee, RequestLog
from tests.syncs.conftest import fetch_all, no_sleep, raised_error_class

SERVICE_USER = "SERVICE-4412"
TOKEN = "hb_tok_9c1e0d7a5b3f4e2a8d6c0b1a9f8e7d6c"
CREDS = {"service_user_id": SERVICE_USER, "token": TOKEN}
SEARCH_URL = "https://api.hibob.com/v1/people/search"
FUTURE_START = (datetime.now(UTC) + timedelta(days=21)).date().isoformat()

# Nested category objects (machine format) plus the appended humanReadable node.
JANE = {
    "id": "3332883884017713238",
    "firstName": "Jane",
    "surname": "Doe",
    "displayName": "Jane Doe",
    "email": "jane.doe@acme.example",
    "creationDate": "2021-02-01",
    "work": {"employeeIdInCompany": 1042, "startDate": "2021-03-01", "department": "209192163"},
    "home": {"privateEmail": "jane@example.org", "mobilePhone": "+44 7700 900123"},
    "internal": {"status": "Active", "lifecycleStatus": "employed", "terminationDate": None},
    "humanReadable": {
        "work": {"employeeIdInCompany": "1042", "startDate": "01/03/2021", "department": "Engineering"},
        "internal": {"status": "Active", "lifecycleStatus": "Employed"},
    },
}
# Only slash-notation keys, as Bob returns requested fields.
OMAR = {
    "/root/id": {"value": "3332883884017713239"},
    "/root/firstName": {"value": "Omar"},
    "/root/surname": {"value": "Haddad"},
    "/root/email": {"value": "omar.haddad@acme.example"},
    "/work/startDate": {"value": "2018-09-17"},
    "/internal/status": {"value": "Inactive"},
    "/internal/lifecycleStatus": {"value": "terminated"},
    "/internal/terminationDate": {"value": "2024-01-31"},
}
# Signed, starts in three weeks.
LI = {
    "id": "3332883884017713240",
    "firstName": "Li",
    "surname": "Wei",
    "displayName": "Wei Li",
    "email": "li.wei@acme.example",
    "work": {"startDate": FUTURE_START},
    "internal": {"status": "Active", "lifecycleStatus": "hired"},
}
# A service user without the Home category: those fields are silently missing.
SAM = {
    "id": "3332883884017713241",
    "firstName": "Sam",
    "surname": "Park",
    "email": "sam.park@acme.example",
    "work": {"startDate": "2020-01-06"},
    "internal": {"status": "Active"},
}
SEARCH_RESULT = {"employees": [JANE, OMAR, LI, SAM]}


@pytest.fixture
def integration():
    return integrations.get("hibob")


def _search_route(mock, *responses):
    return mock.post(SEARCH_URL).mock(side_effect=list(responses))


def _id_of(record):
    return record.get("id") or record["/root/id"]["value"]


def bob(employees):
    """Bob's people search over these records: an ID listing for fields ["root.id"], the
    records matching a root.id equals filter otherwise (unknown IDs are simply left out)."""

    def answer(request):
        body = json.loads(request.content)
        if body.get("fields") == ["root.id"]:
            return httpx.Response(200, json={"employees": [{"id": _id_of(e)} for e in employees]})
        wanted = None
        for f in body.get("filters") or []:
            assert f["fieldPath"] == "root.id" and f["operator"] == "equals"
            wanted = set(f["values"])
        return httpx.Response(
            200, json={"employees": [e for e in employees if wanted is None or _id_of(e) in wanted]}
        )

    return answer


def _bob_route(mock, employees):
    return mock.post(SEARCH_URL).mock(side_effect=bob(employees))


def _basic(request) -> tuple[str, str]:
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    return user, password


def test_registered_with_the_credentials_a_customer_has(integration):
    from accounts import catalog

    fields = {f.name: f for f in integration.credential_fields}
    assert set(fields) == {"service_user_id", "token"}
    assert fields["token"].secret
    assert catalog.get("hibob").name == "HiBob"


@pytest.mark.django_db
def test_validate_success_is_one_small_search():
    with respx.mock() as mock:
        route = _search_route(
            mock, httpx.Response(200, json={"employees": [{"id": "1", "firstName": "Ann"}, {"id": "2"}]})
        )
        check = credentials.credentials_validate(integration="hibob", credentials=CREDS)
    assert check.ok, check.message
    assert route.call_count == 1
    request = route.calls.last.request
    assert _basic(request) == (SERVICE_USER, TOKEN)
    assert json.loads(request.content) == {"fields": ["root.id", "root.firstName"], "showInactive": False}
    log = RequestLog.objects.get()
    assert log.method == "POST" and log.status_code == 200 and TOKEN not in log.url


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "description"), [(401, "Invalid API key"), (403, "Missing permissions")])
def test_validate_rejections(status, description):
    with respx.mock() as mock:
        _search_route(mock, httpx.Response(status, json={"error": "Unauthorized"}))
        check = credentials.credentials_validate(integration="hibob", credentials=CREDS)
    assert not check.ok and check.error_description == description
    assert TOKEN not in check.message and SERVICE_USER not in check.message


@pytest.mark.django_db
def test_a_service_user_that_cannot_read_names_is_missing_permissions(integration):
    nameless = {"employees": [{"id": "1"}, {"id": "2"}]}
    with respx.mock() as mock:
        _search_route(mock, httpx.Response(200, json=nameless))
        check = credentials.credentials_validate(integration="hibob", credentials=CREDS)
    assert not check.ok and check.error_description == "Missing permissions"
    # Same rule in a sync: no nameless rows replace data.
    with respx.mock() as mock:
        _bob_route(mock, [{"id": "1", "email": "a@acme.example"}, {"id": "2"}])
        raised = raised_error_class(fetch_all, integration, CREDS, "hris.Employee")
    assert raised == ErrorClass.MISSING_PERMISSIONS
    # An empty company is not a permission problem.
    with respx.mock() as mock:
        _search_route(mock, httpx.Response(200, json={"employees": []}))
        assert credentials.credentials_validate(integration="hibob", credentials=CREDS).ok


def test_fetch_lists_ids_then_reads_fields_and_maps_both_shapes(integration):
    with respx.mock() as mock:
        route = _bob_route(mock, SEARCH_RESULT["employees"])
        pages = fetch_all(integration, CREDS, "hris.Employee")
    assert route.call_count == 2 and [len(p) for p in pages] == [4]
    listing = json.loads(route.calls[0].request.content)
    assert listing == {"fields": ["root.id"], "showInactive": True}
    body = json.loads(route.calls.last.request.content)
    assert body["showInactive"] is True and body["humanReadable"] == "APPEND"
    assert body["filters"][0]["values"] == [_id_of(e) for e in SEARCH_RESULT["employees"]]
    assert all(_basic(c.request) == (SERVICE_USER, TOKEN) for c in route.calls)
    assert {"root.id", "root.firstName", "root.surname", "work.startDate", "internal.status"} <= set(
        body["fields"]
    )

    mapped = {r["remote_id"]: r for r in (integration.map_record("hris.Employee", raw) for raw in pages[0])}
    assert mapped["3332883884017713238"] == {
        "remote_id": "3332883884017713238",
        "employee_number": "1042",
        "first_name": "Jane",
        "last_name": "Doe",
        "display_full_name": "Jane Doe",
        "work_email": "jane.doe@acme.example",
        "personal_email": "jane@example.org",
        "mobile_phone_number": "+44 7700 900123",
        "employment_status": "ACTIVE",
        "start_date": datetime(2021, 3, 1, tzinfo=UTC),  # the machine date, not the display one
        "termination_date": None,
        "remote_created_at": datetime(2021, 2, 1, tzinfo=UTC),
        "avatar": None,
        "gender": None,
    }
    omar = mapped["3332883884017713239"]
    assert (omar["first_name"], omar["last_name"], omar["display_full_name"]) == (
        "Omar",
        "Haddad",
        "Omar Haddad",
    )
    assert omar["employment_status"] == "INACTIVE"
    assert omar["termination_date"] == datetime(2024, 1, 31, tzinfo=UTC)
    assert mapped["3332883884017713240"]["employment_status"] == "PENDING"
    # Bob's lifecycle says "hired" even when the start date is not readable for this service user.
    hired = integration.map_record("hris.Employee", {**LI, "work": {}})
    assert hired["employment_status"] == "PENDING" and hired["start_date"] is None
    sam = mapped["3332883884017713241"]
    assert sam["personal_email"] is None and sam["mobile_phone_number"] is None
    assert sam["employment_status"] == "ACTIVE"


def test_large_companies_are_read_in_batches_of_ids(integration):
    staff = [
        {"id": str(10_000 + n), "firstName": f"P{n}", "surname": "Staff", "internal": {"status": "Active"}}
        for n in range(1_203)
    ]
    with respx.mock() as mock:
        route = _bob_route(mock, staff)
        pages = fetch_all(integration, CREDS, "hris.Employee")
    assert [len(p) for p in pages] == [500, 500, 203]
    assert route.call_count == 4  # the ID listing, then three batches
    batches = [json.loads(c.request.content)["filters"][0]["values"] for c in route.calls[1:]]
    assert [len(b) for b in batches] == [500, 500, 203]
    assert sum(batches, []) == [e["id"] for e in staff]  # each employee asked for exactly once
    mapped = [integration.map_record("hris.Employee", raw) for p in pages for raw in p]
    assert len({m["remote_id"] for m in mapped}) == 1_203


def test_no_employees_means_no_field_reads(integration):
    with respx.mock() as mock:
        route = _bob_route(mock, [])
        pages = fetch_all(integration, CREDS, "hris.Employee")
    assert pages == [] and route.call_count == 1


def test_unmappable_records_raise_record_error(integration):
    for raw in (
        {"firstName": "No", "surname": "Id"},
        "not an object",
        {**SAM, "work": {"startDate": "06/01/2020"}},
    ):
        with pytest.raises(RecordError):
            integration.map_record("hris.Employee", raw)


def test_429_waits_until_x_ratelimit_reset(monkeypatch, integration):
    waits = no_sleep(monkeypatch)
    reset = str(int(time.time()) + 5)
    with respx.mock() as mock:
        route = _search_route(
            mock,
            httpx.Response(
                429,
                headers={"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
            ),
            httpx.Response(200, json={"employees": [{"id": _id_of(e)} for e in SEARCH_RESULT["employees"]]}),
            httpx.Response(200, json=SEARCH_RESULT),
        )
        session = integration.session(CREDS)
        pages = list(integration.fetch_pages(CREDS, session, "hris.Employee"))
    assert route.call_count == 3 and len(pages[0]) == 4
    assert len(waits) == 1 and 3.0 <= waits[0] <= 5.0
    assert [e.status_code for e in session.log] == [429, 200, 200]


def test_429_wait_prefers_retry_after_and_is_capped(monkeypatch, settings, integration):
    settings.SYNC_RATE_LIMIT_RETRIES = 2
    settings.SYNC_RATE_LIMIT_MAX_WAIT_SECONDS = 10
    waits = no_sleep(monkeypatch)
    far = str(int(time.time()) + 3600)
    with respx.mock() as mock:
        route = _search_route(
            mock,
            httpx.Response(429, headers={"Retry-After": "2", "X-RateLimit-Reset": far}),
            httpx.Response(429, headers={"X-RateLimit-Reset": far}),
            httpx.Response(429, headers={"X-RateLimit-Reset": far}),
        )
        raised = raised_error_class(fetch_all, integration, CREDS, "hris.Employee")
    assert raised == ErrorClass.RATE_LIMITED
    assert route.call_count == 3 and waits == [2.0, 10.0]


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, content=b'{"employees": [{"id": ', headers={"Content-Type": "application/json"}),
        httpx.Response(
            200, text="<!DOCTYPE html><title>Bob | Sign in</title>", headers={"Content-Type": "text/html"}
        ),
        httpx.Response(200, json={"employees": "none"}),
        httpx.Response(502, text="Bad gateway"),
    ],
    ids=["malformed-json", "html-sign-in-page", "employees-not-a-list", "bad-gateway"],
)
def test_unusable_answers(response, integration):
    with respx.mock() as mock:
        _search_route(mock, response)
        raised = raised_error_class(fetch_all, integration, CREDS, "hris.Employee")
    expected = ErrorClass.PROVIDER_OFFLINE if response.status_code == 502 else ErrorClass.BAD_RESPONSE
    assert raised == expected


@pytest.mark.django_db
def test_sync_run_stores_employees_and_a_lost_permission_means_relink_needed(owner):
    account, _ = owner.linked_account(origin_id="bob-1", integration="hibob", credentials=dict(CREDS))
    with respx.mock() as mock:
        _bob_route(mock, SEARCH_RESULT["employees"])
        run = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE" and run.records_created == 4 and run.requests_total == 2
    assert Employee.objects.filter(linked_account=account).count() == 4
    assert Employee.objects.get(
        linked_account=account, remote_id="3332883884017713239"
    ).employment_status == ("INACTIVE")

    # Omar's record disappears from Bob on the next run: kept, flagged as deleted.
    with respx.mock() as mock:
        _bob_route(mock, [JANE, LI, SAM])
        runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert Employee.objects.get(linked_account=account, remote_id="3332883884017713239").remote_was_deleted

    # The service user loses its permission group: 403 -> Missing permissions, Relink Needed.
    with respx.mock() as mock:
        _search_route(mock, httpx.Response(403, json={"error": "Forbidden"}))
        failed = runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    assert failed.status == "FAILED" and failed.error_class == "missing_permissions"
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
    issue = Issue.objects.get(linked_account=account)
    assert issue.error_description == "Missing permissions" and issue.status == "ONGOING"
    assert Employee.objects.filter(linked_account=account, remote_was_deleted=False).count() == 3
