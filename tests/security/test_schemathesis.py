"""Schema fuzzing: schemathesis generates requests from our OpenAPI schema (/api/schema/) and
sends them to a live server over a real socket, with valid API keys and account tokens so that
the requests get past authentication. Every response: no 5xx, the documented content type,
and for a documented status code a body that matches the schema.

All GET operations and the POSTs that destroy nothing are fuzzed. Left out on purpose:
POST /delete-account and POST /account-token/regenerate, which would end the run's own
account token (they are covered by the account API tests).

Defends against: inputs no one thought of crashing an endpoint (500) or answering outside the
schema.

Test by test (what each defends against):
- test_every_operation_survives_fuzzing: 500s and schema violations on generated inputs.
"""

import hypothesis
import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from accounts.models import AccountType

MAX_EXAMPLES = 20
DESTRUCTIVE = {"delete_account_delete", "account_token_regenerate"}
REACHED = {
    "account_details_retrieve",
    "linked_accounts_list",
    "issues_list",
    "sync_status_list",
    "link_token_create",
    "billing_usage_retrieve",
}
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


@pytest.fixture
def fuzz_target(live_server, owner, settings, sandbox_provider):
    # The fuzzer sends a few hundred requests per key and token: it tests the schema, not the limits.
    settings.RATE_LIMIT_ENABLED = False
    production_account, production_token = owner.linked_account(origin_id="fuzz-prod")
    test_account, test_token = owner.linked_account(origin_id="fuzz-test", account_type=AccountType.TEST)
    return {
        "url": live_server.url,
        AccountType.PRODUCTION: (owner.production_key, production_token),
        AccountType.TEST: (owner.test_key, test_token),
    }


def _operations(schema):
    for result in schema.get_all_operations():
        operation = result.ok()
        operation_id = operation.definition.raw.get("operationId", operation.label)
        if operation.method.upper() == "GET" or operation_id not in DESTRUCTIVE:
            yield operation_id, operation


def _fuzzer(*, operation, operation_id: str, target: dict, session, failures: list[str], statuses: dict):
    # The sandbox helpers take test keys only; everything else runs with both environments.
    environments = (
        st.just(AccountType.TEST) if "/sandbox/" in operation.path else st.sampled_from(AccountType)
    )

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(case=operation.as_strategy(), environment=environments)
    def fuzz(case, environment):
        key, token = target[environment]
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {key}"
        if any(name.lower() == "x-account-token" for name in headers):
            headers = {k: v for k, v in headers.items() if k.lower() != "x-account-token"}
            headers["X-Account-Token"] = token
        case.headers = headers
        response = case.call(base_url=target["url"], session=session, timeout=30)
        statuses.setdefault(operation_id, []).append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as exc:
            failures.append(
                f"{operation_id}: {case.method} {response.request.url} -> {response.status_code}\n"
                f"{str(exc)[:1500]}"
            )
            raise

    return fuzz


def test_every_operation_survives_fuzzing(fuzz_target):
    response = requests.get(f"{fuzz_target['url']}/api/schema/?format=json", timeout=30)
    assert response.status_code == 200
    schema = schemathesis.openapi.from_dict(response.json())
    session = requests.Session()
    failures: list[str] = []
    statuses: dict[str, list[int]] = {}
    fuzzed = []

    for operation_id, operation in _operations(schema):
        fuzzed.append(operation_id)
        fuzz = _fuzzer(
            operation=operation,
            operation_id=operation_id,
            target=fuzz_target,
            session=session,
            failures=failures,
            statuses=statuses,
        )
        try:
            fuzz()
        except Exception as exc:  # collected: one run reports every failing operation
            if not failures or not failures[-1].startswith(f"{operation_id}:"):
                failures.append(f"{operation_id}: {type(exc).__name__}: {str(exc)[:1500]}")

    assert {"account_details_retrieve", "linked_accounts_list", "link_token_create"} <= set(fuzzed)
    # The valid key and token got the requests past authentication into the views.
    for operation_id in REACHED:
        assert any(200 <= code < 300 for code in statuses[operation_id]), (
            operation_id,
            statuses[operation_id],
        )
    assert not failures, "\n\n".join(failures)
