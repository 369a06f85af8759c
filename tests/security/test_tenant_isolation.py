"""Tenant isolation sweep. Every API endpoint and every dashboard page is found by walking
config.urls, so a new one cannot be missed: a route whose parameters this file cannot fill in
fails the sweep until it is taught the parameter.

The owner has data everywhere (accounts in both environments, a synced employee, an issue, a
webhook endpoint with a delivery and a notice, API keys, a pending public token). The outsider
(its own organization, keys and operator) asks for all of it: it gets 401/404 (403 for sandbox
helpers with a production key), never a 5xx, and no byte of the owner's data appears in any
response; afterwards the owner's objects are unchanged.

Defends against: one organization reading, changing or using up another's data through any API
route, dashboard page or link page.

Test by test (what each defends against):
- test_every_api_endpoint_keeps_tenants_apart: cross-tenant access with the owner's token or the
  outsider's own.
- test_every_dashboard_page_keeps_tenants_apart: an operator of one organization reaching another's pages.
- test_link_pages_show_nothing_for_a_wrong_token: link pages leaking data for unknown tokens.
"""

import json
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.api import AccountView
from accounts.models import AccountType, ApiKey, LinkedAccount, LinkedAccountStatus
from accounts.services import membership_add
from issues.models import Issue, WebhookEndpoint, WebhookNotice
from issues.services import issue_record_failure
from issues.webhooks.endpoints import webhook_endpoint_create
from issues.webhooks.events import webhook_endpoint_send_test
from linking.link_tokens import link_token_create
from syncs.models import Employee
from syncs.runs import sync_run_account
from tests.linking.helpers import sandbox_finish

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC_ROUTES = {"api/schema/", "api/docs/"}  # public by design: no tenant data
SKIPPED_PREFIXES = ("admin/",)  # Django's admin: staff only, not tenant-scoped
# The end-user link page is reached by a bearer link token, not by a tenant's credentials; it is
# swept separately below (a wrong token shows nothing).
LINK_PREFIX = "link/"
SESSION_ROUTES = {"login", "logout"}


def _routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern), p

    return list(walk(get_resolver().url_patterns))


def _fill(route: str, values: dict[str, str]) -> str:
    import re

    def sub(match):
        name = match.group(2)
        if name not in values:
            raise AssertionError(f"tenant sweep: no value for <{match.group(0)}> in {route!r}; add one")
        return str(values[name])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", sub, route)


def _route_params(route: str) -> list[str]:
    import re

    return re.findall(r"<(?:\w+:)?(\w+)>", route)


def _view_class(pattern: URLPattern):
    return getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)


def _methods(pattern: URLPattern) -> list[str]:
    cls = _view_class(pattern)
    if cls is None:  # function views: ask both; 405 is an answer too
        return ["get", "post"]
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)]


@pytest.fixture
def world(owner, outsider, sandbox_provider):
    """The owner's data everywhere; the outsider with data of its own."""
    suffix = uuid.uuid4().hex[:10]
    prod, prod_token = owner.linked_account(origin_id=f"owner-origin-{suffix}")
    test, test_token = owner.linked_account(origin_id=f"owner-test-{suffix}", account_type=AccountType.TEST)
    _, outsider_prod_token = outsider.linked_account(origin_id=f"outsider-origin-{suffix}")
    _, outsider_test_token = outsider.linked_account(
        origin_id=f"outsider-test-{suffix}", account_type=AccountType.TEST
    )
    sync_run_account(account_id=str(prod.pk), trigger="forced")
    employee = Employee.objects.filter(linked_account=prod).first()
    assert employee is not None
    issue = issue_record_failure(
        account=prod, error_description="Invalid API key", detail="HTTP 401 from provider"
    )
    endpoint, signature_key = webhook_endpoint_create(
        organization=owner.organization, url=f"https://owner-hooks-{suffix}.example.com/in"
    )
    delivery = webhook_endpoint_send_test(endpoint=endpoint)
    notice = WebhookNotice.objects.create(
        organization=owner.organization, endpoint=endpoint, kind="ENDPOINT_DISABLED", message="owner notice"
    )

    def owner_link_token(origin: str, organization_name: str, **options):
        """A TEST HRIS link token of the owner's for a new end user."""
        return link_token_create(
            organization=owner.organization,
            account_type=AccountType.TEST,
            category="hris",
            categories=["hris"],
            end_user_origin_id=f"owner-{origin}-{suffix}",
            end_user_organization_name=f"Owner {organization_name} {suffix}",
            end_user_email_address=f"owner-{origin}-{suffix}@example.com",
            **options,
        )

    link = owner_link_token("new", "Newco", integration="sandbox")
    response = sandbox_finish(owner, link.raw_token, f"sk_sandbox_{suffix}")
    assert response.status_code == 201, response.content
    public_token = response.json()["public_token"]
    second_link = owner_link_token("pending", "Pending")
    key = ApiKey.objects.filter(organization=owner.organization).first()

    operator = get_user_model().objects.create_user(username=f"outsider-op-{suffix}", password="x" * 20)
    membership_add(user=operator, organization=outsider.organization)

    markers = {
        str(prod.pk),
        str(test.pk),
        prod.end_user_origin_id,
        test.end_user_origin_id,
        prod.end_user_email_address,
        test.end_user_email_address,
        prod.end_user_organization_name,
        str(employee.pk),
        str(issue.pk),
        str(endpoint.pk),
        endpoint.url,
        signature_key,
        str(delivery.pk),
        prod_token,
        test_token,
        owner.production_key,
        owner.test_key,
        public_token,
        link.raw_token,
        second_link.raw_token,
        str(owner.organization.pk),
        owner.organization.name,
        f"owner-new-{suffix}",
        f"owner-pending-{suffix}",
    }
    return {
        "prod": prod,
        "test": test,
        "prod_token": prod_token,
        "test_token": test_token,
        # The outsider's own, valid account tokens: authentication passes, only scoping can refuse.
        "outsider_tokens": {
            AccountType.PRODUCTION: outsider_prod_token,
            AccountType.TEST: outsider_test_token,
        },
        "employee": employee,
        "issue": issue,
        "endpoint": endpoint,
        "delivery": delivery,
        "notice": notice,
        "key": key,
        "public_token": public_token,
        "link_token": second_link.raw_token,
        "operator": operator,
        "markers": markers,
        "values": {
            "category": "hris",
            "issue_id": issue.pk,
            "object_id": employee.pk,  # a synced record of any common model (the employee)
            "public_token": public_token,
            "account_id": prod.pk,
            "endpoint_id": endpoint.pk,
            "delivery_id": delivery.pk,
            "notice_id": notice.pk,
            "key_id": key.pk,
            "token": second_link.raw_token,
            "integration": "sandbox",
        },
    }


def _assert_no_leak(response, markers: set[str], what: str) -> None:
    # What the requester put in the URL itself (an id it asked for) may be echoed back.
    asked = what.split(" ")
    markers = {m for m in markers if not any(m in part for part in asked)}
    raw = b"".join(response.streaming_content) if response.streaming else response.content  # the CSV streams
    body = raw.decode(errors="replace")
    headers = json.dumps({k: v for k, v in response.items()})
    leaked = sorted(m for m in markers if m and (m in body or m in headers))
    assert not leaked, f"{what}: the other tenant's data in the response: {leaked}"


def _outsider_token_still_valid(outsider, world: dict, environment: str) -> str:
    """The outsider's own account token, valid now: a route tried before (delete the account,
    regenerate its token) may have used it up, so a fresh account replaces it then."""
    token = world["outsider_tokens"][environment]
    key = outsider.production_key if environment == AccountType.PRODUCTION else outsider.test_key
    check = Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_X_ACCOUNT_TOKEN=token)
    if check.get("/api/hris/v1/account-details").status_code != 200:
        _, token = outsider.linked_account(
            origin_id=f"outsider-{uuid.uuid4().hex[:10]}", account_type=environment
        )
        world["outsider_tokens"][environment] = token
    return token


def _hostile_body(route: str, world: dict, owner_origin: str) -> dict:
    if route.endswith("link-token"):  # try to bind a link token to the owner's account
        return {
            "end_user_email_address": "x@example.com",
            "end_user_organization_name": "X",
            "end_user_origin_id": owner_origin,
            "categories": ["hris"],
        }
    if route.endswith("public-token"):  # try to finish the owner's pending link
        return {
            "link_token": world["link_token"],
            "integration": "sandbox",
            "credentials": {"api_key": "sk_sandbox_x"},
        }
    if route.endswith("provider-outage"):
        return {"mode": "http_500"}
    return {}


def test_every_api_endpoint_keeps_tenants_apart(world, owner, outsider):
    api_routes = [
        (route, p) for route, p in _routes() if route.startswith("api/") and route not in PUBLIC_ROUTES
    ]
    assert len(api_routes) >= 15
    checked = 0
    for route, pattern in api_routes:
        url = _fill(route, world["values"])
        is_account_view = issubclass(_view_class(pattern), AccountView)
        needs_owner_object = any(name != "category" for name in pattern.pattern.converters) or any(
            name != "category" for name in _route_params(route)
        )
        for method in _methods(pattern):
            # No key at all.
            response = getattr(Client(), method)(url)
            assert response.status_code == 401, (route, method, response.status_code)
            _assert_no_leak(response, world["markers"], f"{method.upper()} {url} without a key")
            for environment, owner_token in (
                (AccountType.PRODUCTION, world["prod_token"]),
                (AccountType.TEST, world["test_token"]),
            ):
                key = outsider.production_key if environment == AccountType.PRODUCTION else outsider.test_key
                origin = world["prod" if environment == AccountType.PRODUCTION else "test"].end_user_origin_id
                body = json.dumps(_hostile_body(route, world, origin))
                own_token = _outsider_token_still_valid(outsider, world, environment)
                for token, whose in ((owner_token, "the owner's token"), (own_token, "its own valid token")):
                    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_X_ACCOUNT_TOKEN=token)
                    if method == "get":
                        response = client.get(url)
                    else:
                        response = getattr(client, method)(url, data=body, content_type="application/json")
                    what = f"{method.upper()} {url} with the outsider's {environment} key and {whose}"
                    assert response.status_code < 500, (what, response.status_code)
                    _assert_no_leak(response, world["markers"], what)
                    if token == owner_token and is_account_view:
                        assert response.status_code in (401, 403), (what, response.status_code)
                    elif needs_owner_object:
                        # Its own account reaches the route; the owner's object in the URL does not.
                        assert response.status_code in (400, 403, 404), (what, response.status_code)
                    checked += 1
    assert checked >= 60

    # Nothing of the owner's changed or was used up.
    for account, status in (
        (world["prod"], LinkedAccountStatus.COMPLETE),
        (world["test"], LinkedAccountStatus.COMPLETE),
    ):
        assert LinkedAccount.objects.get(pk=account.pk).status == status
    for token in (world["prod_token"],):
        assert owner.client(account_token=token).get("/api/hris/v1/account-details").status_code == 200
    assert (
        owner.client(test=True, account_token=world["test_token"])
        .get("/api/hris/v1/account-details")
        .status_code
        == 200
    )
    exchanged = owner.client(test=True).get(f"/api/hris/v1/account-token/{world['public_token']}")
    assert exchanged.status_code == 200, "the outsider used up the owner's public token"
    pending = sandbox_finish(owner, world["link_token"], "sk_sandbox_owner2")
    assert pending.status_code == 201, "the outsider used up the owner's link token"


def _dashboard_routes():
    for route, pattern in _routes():
        if route.startswith(("api/", LINK_PREFIX, *SKIPPED_PREFIXES)) or route in SESSION_ROUTES:
            continue
        yield route, pattern


def test_every_dashboard_page_keeps_tenants_apart(world, owner, outsider):
    routes = list(_dashboard_routes())
    assert len(routes) >= 20
    client = Client()
    client.force_login(world["operator"])
    anonymous = Client()
    for route, pattern in routes:
        url = _fill(route, world["values"])
        has_owner_object = "<" in route
        for method in _methods(pattern):
            response = getattr(anonymous, method)(url)
            assert response.status_code in (302, 403, 405), (
                f"anonymous {method.upper()} {url}",
                response.status_code,
            )
            if response.status_code == 302:
                assert "/login" in response["Location"]
            _assert_no_leak(response, world["markers"], f"anonymous {method.upper()} {url}")

            response = getattr(client, method)(url)
            what = f"outsider operator {method.upper()} {url}"
            assert response.status_code < 500, (what, response.status_code)
            _assert_no_leak(response, world["markers"], what)
            if has_owner_object:
                assert response.status_code in (404, 405), (what, response.status_code)
            # Asking for the owner's organization by id is a 404 on every page.
            if method == "get" and not has_owner_object and response.status_code == 200:
                response = client.get(url, {"organization": str(owner.organization.pk)})
                assert response.status_code == 404, (f"{what}?organization=<owner>", response.status_code)
                _assert_no_leak(response, world["markers"], f"{what}?organization=<owner>")

    # Nothing of the owner's was changed by the outsider's POSTs.
    assert LinkedAccount.objects.filter(pk=world["prod"].pk).exists()
    assert LinkedAccount.objects.get(pk=world["prod"].pk).sync_frequency == world["prod"].sync_frequency
    assert ApiKey.objects.get(pk=world["key"].pk).revoked_at is None
    endpoint = WebhookEndpoint.objects.get(pk=world["endpoint"].pk)
    assert endpoint.enabled and endpoint.signature_key_encrypted == world["endpoint"].signature_key_encrypted
    assert not Issue.objects.get(pk=world["issue"].pk).is_muted
    assert WebhookNotice.objects.get(pk=world["notice"].pk).acknowledged_at is None


def test_link_pages_show_nothing_for_a_wrong_token(world, outsider):
    for route, pattern in _routes():
        if not route.startswith(LINK_PREFIX):
            continue
        url = _fill(route, {**world["values"], "token": "not-a-token-" + uuid.uuid4().hex})
        for method in _methods(pattern):
            response = getattr(Client(), method)(url)
            assert response.status_code < 500, (url, response.status_code)
            _assert_no_leak(response, world["markers"], f"{method.upper()} {url} with a wrong token")
