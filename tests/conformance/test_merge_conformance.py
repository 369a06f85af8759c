"""Merge conformance, through a live server: every endpoint's answer validates against the Merge
SDK's own pydantic model in strict mode; every parameter Merge documents for a list (the keyword
arguments of the SDK's `list`/`retrieve`) either works (200) or is refused (400 naming it, "not
supported"). Merge's Node SDK: test_node_sdk.py.

A new endpoint joins by adding one line to ENDPOINTS: its method and path, the SDK model of its
answer, and for a list or retrieve the SDK method whose parameters it must answer and Relink's
declaration of its query (`accounts.query_params`)."""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import json
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
from merge import Merge
from merge.resources.ats import types as ats
from merge.resources.ats.resources.candidates.client import CandidatesClient
from merge.resources.crm import types as crm
from merge.resources.crm.resources.contacts.client import ContactsClient
from merge.resources.hris import types as hris
from merge.resources.hris.resources.employees.client import EmployeesClient
from merge.resources.hris.resources.issues.client import IssuesClient
from merge.resources.hris.resources.linked_accounts.client import LinkedAccountsClient
from merge.resources.hris.resources.sync_status.client import SyncStatusClient

from accounts.api import CursorParams
from accounts.query_params import (
    TrueNotSupported,
    not_supported_message,
    parameters_markdown,
    unknown_message,
)
from accounts.serializers import LinkedAccountFilterSerializer
from issues.serializers import IssueFilterSerializer
from issues.services import issue_record_failure
from syncs import runs as sync_runs
from syncs import tasks as sync_tasks
from syncs.filters import (
    CandidateListParams,
    CommonModelRetrieveParams,
    ContactListParams,
    ContactRetrieveParams,
    EmployeeListParams,
    EmployeeRetrieveParams,
)
from tests.syncs.categories import link_sandbox_account


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # under /api/; {employee}, {issue}, {public_token} are filled from the world
    model: Any  # the SDK type of the answer (None: no body)
    sdk_method: Callable | None = None  # its keyword arguments are Merge's documented parameters
    params: type | None = None  # Relink's declaration of the query
    body: dict | None = None


def _new_link(category: str, integration: str) -> dict:
    return {
        "end_user_email_address": "new@example.com",
        "end_user_organization_name": "New",
        "end_user_origin_id": f"conformance-new-{category}",
        "categories": [category],
        "should_create_magic_link_url": True,
        "integration": integration,
    }


ENDPOINTS = [
    Endpoint("GET", "hris/v1/account-details", hris.AccountDetails),
    Endpoint(
        "GET",
        "hris/v1/linked-accounts",
        hris.PaginatedAccountDetailsAndActionsList,
        LinkedAccountsClient.list,
        LinkedAccountFilterSerializer,
    ),
    Endpoint("GET", "hris/v1/issues", hris.PaginatedIssueList, IssuesClient.list, IssueFilterSerializer),
    Endpoint("GET", "hris/v1/issues/{issue}", hris.Issue),
    Endpoint("GET", "hris/v1/sync-status", hris.PaginatedSyncStatusList, SyncStatusClient.list, CursorParams),
    Endpoint("POST", "hris/v1/sync-status/resync", list[hris.SyncStatus]),
    Endpoint(
        "GET", "hris/v1/employees", hris.PaginatedEmployeeList, EmployeesClient.list, EmployeeListParams
    ),
    Endpoint(
        "GET", "hris/v1/employees/{employee}", hris.Employee, EmployeesClient.retrieve, EmployeeRetrieveParams
    ),
    Endpoint("POST", "hris/v1/link-token", hris.LinkToken, body=_new_link("hris", "sandbox")),
    Endpoint("GET", "hris/v1/account-token/{public_token}", hris.AccountToken),
    Endpoint(
        "GET", "ats/v1/candidates", ats.PaginatedCandidateList, CandidatesClient.list, CandidateListParams
    ),
    Endpoint(
        "GET",
        "ats/v1/candidates/{candidate}",
        ats.Candidate,
        CandidatesClient.retrieve,
        CommonModelRetrieveParams,
    ),
    Endpoint("GET", "ats/v1/account-details", ats.AccountDetails),
    Endpoint("GET", "ats/v1/sync-status", ats.PaginatedSyncStatusList),
    Endpoint("GET", "crm/v1/contacts", crm.PaginatedContactList, ContactsClient.list, ContactListParams),
    Endpoint("GET", "crm/v1/contacts/{contact}", crm.Contact, ContactsClient.retrieve, ContactRetrieveParams),
    Endpoint("GET", "crm/v1/account-details", crm.AccountDetails),
    Endpoint("GET", "crm/v1/linked-accounts", crm.PaginatedAccountDetailsAndActionsList),
    Endpoint("GET", "ats/v1/linked-accounts", ats.PaginatedAccountDetailsAndActionsList),
    Endpoint("GET", "ats/v1/issues", ats.PaginatedIssueList),
    Endpoint("GET", "crm/v1/issues", crm.PaginatedIssueList),
    Endpoint("GET", "crm/v1/sync-status", crm.PaginatedSyncStatusList),
    Endpoint("POST", "ats/v1/sync-status/resync", list[ats.SyncStatus]),
    Endpoint("POST", "crm/v1/sync-status/resync", list[crm.SyncStatus]),
    Endpoint("POST", "ats/v1/link-token", ats.LinkToken, body=_new_link("ats", "sandbox_ats")),
    Endpoint("POST", "crm/v1/link-token", crm.LinkToken, body=_new_link("crm", "sandbox_crm")),
    # Last: it deletes the CRM account. Merge answers it with an empty body.
    Endpoint("POST", "crm/v1/delete-account", None),
]


@dataclass
class World:
    url: str
    api_key: str
    account_token: str
    category_tokens: dict[str, str]  # the account token of each category's account
    fill: dict[str, str]  # path placeholders
    samples: dict[str, str]  # a good value per parameter name, where a type says too little

    def request(self, method: str, path: str, *, params=None, body=None) -> httpx.Response:
        token = self.category_tokens.get(path.split("/", 1)[0], self.account_token)
        headers = {"Authorization": f"Bearer {self.api_key}", "X-Account-Token": token}
        return httpx.request(
            method, f"{self.url}/api/{path.format(**self.fill)}", params=params, json=body, headers=headers
        )


def _link(owner, origin_id: str) -> tuple[str, str]:
    """An account linked as a customer links one: link token, the sandbox finish, the exchange."""
    client = owner.client(test=True)
    link = client.post(
        "/api/hris/v1/link-token",
        {
            "end_user_email_address": f"{origin_id}@example.com",
            "end_user_organization_name": f"{origin_id} Inc",
            "end_user_origin_id": origin_id,
            "categories": ["hris"],
        },
        format="json",
    ).json()["link_token"]
    finished = client.post(
        "/api/sandbox/v1/public-token",
        {"link_token": link, "integration": "sandbox", "credentials": {"api_key": f"sk_sandbox_{origin_id}"}},
        format="json",
    )
    assert finished.status_code == 201, finished.content
    exchanged = client.get(f"/api/hris/v1/account-token/{finished.json()['public_token']}").json()
    return exchanged["id"], exchanged["account_token"]


@pytest.fixture
def world(live_server, owner, sandbox_provider, monkeypatch) -> World:
    """A test organization with a synced account (200 employees, one ONGOING issue), an
    INCOMPLETE account and a RELINK_NEEDED one beside it, and a pending public token."""
    monkeypatch.setattr(sync_tasks.sync_account, "apply_async", lambda *args, **kwargs: None)
    account_id, token = _link(owner, "conformance-1")
    assert sync_runs.sync_run_account(account_id=account_id, trigger="schedule").status == "DONE"
    from accounts.models import AccountType, LinkedAccount
    from accounts.services import linked_account_mark_relink_needed

    account = LinkedAccount.objects.get(pk=account_id)
    issue = issue_record_failure(account=account, error_description="Rate limited", detail="HTTP 429")
    owner.linked_account(origin_id="conformance-incomplete", account_type=AccountType.TEST, complete=False)
    broken, _ = owner.linked_account(origin_id="conformance-broken", account_type=AccountType.TEST)
    linked_account_mark_relink_needed(account=broken, reason="The provider rejected the API key")

    client = owner.client(test=True)
    link = client.post(
        "/api/hris/v1/link-token",
        {
            "end_user_email_address": "p@example.com",
            "end_user_organization_name": "P",
            "end_user_origin_id": "conformance-pending",
            "categories": ["hris"],
        },
        format="json",
    ).json()["link_token"]
    public = client.post(
        "/api/sandbox/v1/public-token",
        {"link_token": link, "integration": "sandbox", "credentials": {"api_key": "sk_sandbox_p"}},
        format="json",
    ).json()["public_token"]
    employee = account.employees.order_by("id").first()
    tokens, fill = {"hris": token}, {}
    for category, model in (("ats", "candidates"), ("crm", "contacts")):
        other, other_token = link_sandbox_account(
            owner, category=category, origin_id=f"conformance-{category}"
        )
        assert sync_runs.sync_run_account(account_id=str(other.pk), trigger="schedule").status == "DONE"
        tokens[category] = other_token
        fill[model[:-1]] = str(getattr(other, model).order_by("id").first().id)
    return World(
        url=live_server.url,
        api_key=owner.test_key,
        account_token=token,
        category_tokens=tokens,
        fill={"employee": str(employee.id), "issue": str(issue.id), "public_token": public, **fill},
        samples={
            "id": account_id,
            "ids": account_id,
            "linked_account_id": account_id,
            "account_token": token,
            "hris/v1/linked-accounts?status": "COMPLETE",
            "category": "hris",
            "is_test_account": "true",
            "include_muted": "true",
            "start_date": "2000-01-01",
            "end_date": "2100-01-01",
            "end_user_origin_ids": "conformance-1,conformance-broken",
            "include_duplicates": "false",
        },
    )


def _validate(model: Any, response: httpx.Response) -> None:
    pydantic.TypeAdapter(model).validate_json(response.content, strict=True)


@pytest.mark.django_db(transaction=True)
def test_every_endpoint_answers_what_the_sdk_model_accepts_in_strict_mode(world):
    failures = []
    for endpoint in ENDPOINTS:
        response = world.request(endpoint.method, endpoint.path, body=endpoint.body)
        if response.status_code != 200:
            failures.append(
                f"{endpoint.method} {endpoint.path}: {response.status_code} {response.text[:300]}"
            )
            continue
        if endpoint.model is None:
            if response.content:
                failures.append(f"{endpoint.method} {endpoint.path}: a body where Merge has none")
            continue
        try:
            _validate(endpoint.model, response)
        except pydantic.ValidationError as exc:
            failures.append(f"{endpoint.method} {endpoint.path}: {exc}")
    assert not failures, "\n".join(failures)


def _documented(method: Callable) -> dict[str, Any]:
    hints = typing.get_type_hints(method)
    names = [p for p in inspect.signature(method).parameters if p not in ("self", "id", "request_options")]
    return {name: hints[name] for name in names}


def _sample(endpoint: Endpoint, name: str, annotation: Any, world: World) -> str | None:
    if f"{endpoint.path}?{name}" in world.samples:
        return world.samples[f"{endpoint.path}?{name}"]
    if name in world.samples:
        return world.samples[name]
    if name == "cursor":  # a cursor the endpoint handed out (None: it never hands one out)
        return world.request(endpoint.method, endpoint.path, params={"page_size": 1}).json()["next"]
    kinds = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    kind = kinds[0]
    if kind is dt.datetime:
        return "2000-01-01T00:00:00Z"
    if kind is bool:
        return "true"
    if kind is int:
        return "1"
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return next(iter(kind)).value
    return "x"


@pytest.mark.django_db(transaction=True)
def test_every_documented_parameter_works_or_is_refused(world):
    checked, failures = 0, []
    for endpoint in ENDPOINTS:
        if endpoint.sdk_method is None:
            continue
        declared = endpoint.params().fields
        not_supported = set(getattr(endpoint.params, "not_supported", ()))
        for name, annotation in _documented(endpoint.sdk_method).items():
            value = _sample(endpoint, name, annotation, world)
            if value is None:
                value = "bm90LWEtY3Vyc29y"
                response = world.request(endpoint.method, endpoint.path, params={name: value})
                if response.status_code != 400 or name not in response.json():
                    failures.append(
                        f"{endpoint.path}?{name}: a cursor never handed out answered {response.text}"
                    )
                continue
            response = world.request(endpoint.method, endpoint.path, params={name: value})
            checked += 1
            where = f"{endpoint.path}?{name}={value}"
            if name in not_supported or (
                isinstance(declared.get(name), TrueNotSupported) and value == "true"
            ):
                body = response.json() if response.status_code == 400 else {}
                if response.status_code != 400 or "not supported" not in json.dumps(body.get(name)):
                    failures.append(
                        f"{where}: expected 400 naming it as not supported, got {response.text[:200]}"
                    )
            elif name in declared:
                if response.status_code != 200:
                    failures.append(f"{where}: a supported parameter answered {response.status_code}")
                else:
                    _validate(endpoint.model, response)
            else:
                failures.append(f"{where}: documented by Merge but neither supported nor refused")
        unknown = world.request(endpoint.method, endpoint.path, params={"no_such_parameter": "1"})
        if unknown.status_code != 400 or unknown.json().get("no_such_parameter") != [
            unknown_message("no_such_parameter")
        ]:
            failures.append(f"{endpoint.path}: an unknown parameter answered {unknown.text[:200]}")
    assert checked > 60
    assert not failures, "\n".join(failures)


@pytest.mark.django_db(transaction=True)
def test_the_python_sdk_filters_employees_on_the_server(world):
    merge = Merge(base_url=f"{world.url}/api", api_key=world.api_key, account_token=world.account_token)
    everyone = merge.hris.employees.list(page_size=100)
    assert len(everyone.results) == 100 and everyone.next
    assert merge.hris.employees.list(modified_before=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)).results == []
    assert merge.hris.employees.list(created_after=dt.datetime(2100, 1, 1, tzinfo=dt.UTC)).results == []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert len(merge.hris.employees.list(modified_before=later, page_size=100).results) == 100
    # The sandbox has active and terminated employees, no pending ones.
    inactive = merge.hris.employees.list(employment_status="INACTIVE", page_size=100).results
    assert inactive and all(e.employment_status == "INACTIVE" for e in inactive)
    assert merge.hris.employees.list(employment_status="PENDING").results == []
    ada = merge.hris.employees.list(first_name="Ada").results
    assert ada and all(e.first_name == "Ada" for e in ada)
    one = everyone.results[0]
    by_email = merge.hris.employees.list(work_email=one.work_email).results
    assert [e.id for e in by_email] == [one.id]
    if one.start_date:
        assert one.id not in {e.id for e in merge.hris.employees.list(started_after=one.start_date).results}

    # Sensitive fields only when asked for, as Merge answers them.
    from syncs.models import Employee
    from syncs.sensitive import encrypt_value

    Employee.objects.filter(pk=one.id).update(
        ssn_encrypted=encrypt_value("078-05-1120"),
        date_of_birth_encrypted=encrypt_value(dt.datetime(1990, 5, 17, tzinfo=dt.UTC)),
    )
    plain = merge.hris.employees.retrieve(one.id)
    assert plain.ssn is None and plain.date_of_birth is None
    sensitive = merge.hris.employees.retrieve(one.id, include_sensitive_fields=True)
    assert sensitive.ssn == "078-05-1120" and sensitive.date_of_birth == dt.datetime(
        1990, 5, 17, tzinfo=dt.UTC
    )
    listed = merge.hris.employees.list(remote_id=one.remote_id, include_sensitive_fields=True).results
    assert [e.ssn for e in listed] == ["078-05-1120"]
    assert merge.hris.employees.list(remote_id=one.remote_id).results[0].ssn is None

    bogus = httpx.get(
        f"{world.url}/api/hris/v1/employees",
        params={"employment_status": "BOGUS"},
        headers={"Authorization": f"Bearer {world.api_key}", "X-Account-Token": world.account_token},
    )
    assert bogus.status_code == 400 and "employment_status" in bogus.json()
    from merge.core.api_error import ApiError

    with pytest.raises(ApiError) as refused:
        merge.hris.employees.list(manager_id="someone")
    assert refused.value.status_code == 400 and refused.value.body == {
        "manager_id": [not_supported_message("manager_id")]
    }
    with pytest.raises(ApiError) as refused:
        merge.hris.employees.list(include_remote_data=True)
    assert refused.value.status_code == 400 and "include_remote_data" in refused.value.body


# --- the docs ---------------------------------------------------------------------------------------
DOCS = Path(__file__).resolve().parents[2] / "docs" / "parameters.md"
GENERATED = (
    "<!-- generated from the endpoints' declarations: tests/conformance (RELINK_WRITE_DOCS=1 rewrites) -->"
)


def test_the_docs_list_each_endpoints_parameters_as_declared():
    def title(endpoint: Endpoint) -> str:
        # The organization and account endpoints serve every category; data endpoints their own.
        category_wide = not endpoint.path.startswith(("hris/v1/employees", "ats/", "crm/"))
        path = endpoint.path.replace("hris/v1/", "{category}/v1/", 1) if category_wide else endpoint.path
        return f"{endpoint.method} /api/{path}"

    tables = parameters_markdown([(title(e), e.params) for e in ENDPOINTS if e.params is not None])
    text = DOCS.read_text()
    head, _, _ = text.partition(GENERATED)
    expected = f"{head}{GENERATED}\n\n{tables}"
    if os.environ.get("RELINK_WRITE_DOCS") == "1":
        DOCS.write_text(expected)
    assert text == expected, "docs/parameters.md is out of step: run this test with RELINK_WRITE_DOCS=1"
