"""POST /link-token, POST /api/sandbox/v1/public-token and GET /account-token/{public_token}."""

import json
import logging
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import LinkedAccount
from accounts.selectors import linked_account_credentials, linked_account_token
from issues.models import Issue
from issues.services import issue_record_failure
from issues.webhooks import account_tokens
from linking.models import LinkToken, PublicToken

from .helpers import create_link_token, deliveries, exchange, sandbox_finish

pytestmark = pytest.mark.django_db

BASE = {
    "end_user_email_address": "it@acme.example",
    "end_user_organization_name": "Acme",
    "end_user_origin_id": "acme-1",
    "categories": ["hris"],
}


def post_link_token(tenant, body, *, test=True, category="hris"):
    return tenant.client(test=test).post(f"/api/{category}/v1/link-token", body, format="json")


def test_link_token_is_created_hashed_and_expiring(owner):
    before = timezone.now()
    response = post_link_token(owner, {**BASE, "integration": "sandbox", "link_expiry_mins": 60})
    assert response.status_code == 200
    data = response.json()
    # No magic link asked for: the field is absent (Merge types it as a string, never null).
    assert set(data) == {"link_token", "integration_name"}
    assert data["integration_name"] == "Sandbox HRIS"
    token = LinkToken.objects.get()
    assert token.token_hash != data["link_token"] and data["link_token"] not in json.dumps(
        list(LinkToken.objects.values()), default=str
    )
    assert token.account_type == "TEST" and token.end_user_origin_id == "acme-1"
    assert timedelta(minutes=59) < token.expires_at - before <= timedelta(minutes=60, seconds=5)
    assert token.linked_account is None and token.used_at is None


def test_link_token_defaults_to_thirty_minutes_and_magic_link_up_to_seven_days(owner):
    response = post_link_token(owner, BASE)
    assert response.status_code == 200
    assert "integration_name" not in response.json()
    token = LinkToken.objects.get()
    assert timedelta(minutes=29) < token.expires_at - timezone.now() <= timedelta(minutes=30)

    response = post_link_token(
        owner,
        {**BASE, "end_user_origin_id": "m", "link_expiry_mins": 10080, "should_create_magic_link_url": True},
    )
    assert response.status_code == 200
    url = response.json()["magic_link_url"]
    assert url.startswith("http://testserver/link/") and url.endswith("?mode=magic")
    assert response.json()["link_token"] in url


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"link_expiry_mins": 29}, "link_expiry_mins", "between 30 and 720"),
        ({"link_expiry_mins": 721}, "link_expiry_mins", "between 30 and 720"),
        ({"link_expiry_mins": 10081, "should_create_magic_link_url": True}, "link_expiry_mins", "10080"),
        ({"link_expiry_mins": "soon"}, "link_expiry_mins", "valid integer"),
        ({"categories": []}, "categories", ""),
        ({"categories": ["payroll"]}, "categories", "not a valid choice"),
        ({"categories": None}, "categories", ""),
        ({"integration": "nosuch"}, "integration", "Unknown integration"),
        ({"integration": "sandbox", "categories": ["ats"]}, "integration", "serves none"),
        ({"end_user_email_address": "not-an-address"}, "end_user_email_address", "valid email"),
        ({"end_user_origin_id": ""}, "end_user_origin_id", ""),
        ({"end_user_origin_id": "x" * 256}, "end_user_origin_id", "255"),
        ({"language": "xx"}, "language", "not a valid choice"),
    ],
)
def test_link_token_rejects_bad_fields_with_reasons(owner, change, field, words):
    response = post_link_token(owner, {**BASE, **change})
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body
    assert words in json.dumps(body[field])
    assert not LinkToken.objects.exists()


@pytest.mark.parametrize(
    "missing", ["end_user_email_address", "end_user_organization_name", "end_user_origin_id", "categories"]
)
def test_link_token_requires_the_end_user_fields(owner, missing):
    body = {k: v for k, v in BASE.items() if k != missing}
    response = post_link_token(owner, body)
    assert response.status_code == 400
    assert missing in response.json()


def test_link_token_accepts_magic_link_expiry_above_720(owner):
    response = post_link_token(owner, {**BASE, "link_expiry_mins": 721, "should_create_magic_link_url": True})
    assert response.status_code == 200
    assert response.json()["magic_link_url"]
    token = LinkToken.objects.get()
    assert timedelta(minutes=720) < token.expires_at - timezone.now() <= timedelta(minutes=721)
    # Without a magic link, 721 is over the limit.
    refused = post_link_token(owner, {**BASE, "end_user_origin_id": "n", "link_expiry_mins": 721})
    assert refused.status_code == 400 and "link_expiry_mins" in refused.json()


def test_link_token_needs_an_api_key(owner, client):
    assert client.post("/api/hris/v1/link-token", BASE, content_type="application/json").status_code == 401


def test_link_token_binds_to_the_existing_account_of_the_same_environment_only(owner, outsider):
    account, _ = owner.linked_account(origin_id="acme-1", account_type="TEST")
    outsider.linked_account(origin_id="acme-2", account_type="TEST")
    owner.linked_account(origin_id="acme-3")  # production

    data = create_link_token(owner, origin_id="acme-1")
    assert data["integration_name"] == "Sandbox HRIS"
    assert LinkToken.objects.get().linked_account == account

    create_link_token(owner, origin_id="acme-2")  # the outsider's origin id
    create_link_token(owner, origin_id="acme-3")  # a production account, a test key
    assert LinkToken.objects.filter(linked_account__isnull=True).count() == 2


def test_sandbox_public_token_needs_a_test_key(owner, sandbox_provider):
    data = create_link_token(owner, test=False)
    response = sandbox_finish(owner, data["link_token"], "sk_sandbox_x", test=False)
    assert response.status_code == 403
    assert not LinkedAccount.objects.exists()


def test_new_link_exchange_and_webhook(owner, sandbox_provider, webhook_endpoint):
    data = create_link_token(owner, origin_id="new-1")
    response = sandbox_finish(owner, data["link_token"], "sk_sandbox_first")
    assert response.status_code == 201, response.content
    public_token = response.json()["public_token"]

    account = LinkedAccount.objects.get()
    assert account.status == "COMPLETE" and account.account_type == "TEST"
    assert account.end_user_origin_id == "new-1" and account.end_user_organization_name == "new-1 Ltd"
    assert account.completed_at is not None
    assert linked_account_credentials(account=account) == {"api_key": "sk_sandbox_first"}
    assert "sk_sandbox_first" not in account.credentials_encrypted
    assert not PublicToken.objects.filter(token_hash=public_token).exists()

    exchanged = exchange(owner, public_token)
    assert exchanged.status_code == 200
    body = exchanged.json()
    assert body["id"] == str(account.id)
    assert body["account_token"] == linked_account_token(account=account)
    assert body["integration"]["slug"] == "sandbox" and body["integration"]["name"] == "Sandbox HRIS"
    assert body["integration"]["categories"] == ["hris"]

    details = owner.client(test=True, account_token=body["account_token"]).get("/api/hris/v1/account-details")
    assert details.status_code == 200 and details.json()["id"] == str(account.id)

    [hook] = deliveries(owner.organization, "LinkedAccount.linked")
    # The stored delivery has a placeholder; the token is filled in when sent
    # (tests/security/test_webhook_account_token.py).
    assert hook["data"] == {"is_relink": False, "account_token": account_tokens.PLACEHOLDER}
    assert hook["linked_account"]["id"] == str(account.id)
    assert hook["linked_account"]["status"] == "COMPLETE"


def test_public_token_is_single_use_expiring_and_private(owner, outsider, sandbox_provider):
    public_token = sandbox_finish(owner, create_link_token(owner)["link_token"], "sk_sandbox_a").json()[
        "public_token"
    ]
    assert exchange(outsider, public_token).status_code == 404
    assert exchange(owner, public_token, test=False).status_code == 404  # production key
    assert exchange(owner, public_token).status_code == 200
    again = exchange(owner, public_token)
    assert again.status_code == 410 and "already" in again.json()["detail"]
    assert exchange(owner, "pt_unknown").status_code == 404

    second = sandbox_finish(owner, create_link_token(owner, origin_id="late")["link_token"], "sk_sandbox_b")
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        late = exchange(owner, second.json()["public_token"])
    assert late.status_code == 410 and "expired" in late.json()["detail"]


def test_link_token_is_single_use(owner, sandbox_provider):
    link_token = create_link_token(owner)["link_token"]
    assert sandbox_finish(owner, link_token, "sk_sandbox_a").status_code == 201
    again = sandbox_finish(owner, link_token, "sk_sandbox_b")
    assert again.status_code == 400
    assert "already been used" in again.json()["link_token"][0]
    account = LinkedAccount.objects.get()
    assert linked_account_credentials(account=account) == {"api_key": "sk_sandbox_a"}
    assert PublicToken.objects.count() == 1


def test_expired_unknown_and_foreign_link_tokens_create_nothing(owner, outsider, sandbox_provider):
    link_token = create_link_token(owner, link_expiry_mins=30)["link_token"]
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        expired = sandbox_finish(owner, link_token, "sk_sandbox_a")
    assert expired.status_code == 400 and "expired" in expired.json()["link_token"][0]
    unknown = sandbox_finish(owner, "lt_nosuchtoken", "sk_sandbox_a")
    assert unknown.status_code == 400 and "not valid" in unknown.json()["link_token"][0]
    foreign = sandbox_finish(outsider, create_link_token(owner, origin_id="o")["link_token"], "sk_sandbox_a")
    assert foreign.status_code == 400 and "not valid" in foreign.json()["link_token"][0]
    assert not LinkedAccount.objects.exists()
    assert not PublicToken.objects.exists()


def test_wrong_credentials_leave_one_incomplete_account_that_the_next_link_completes(owner, sandbox_provider):
    link_token = create_link_token(owner)["link_token"]
    for _ in range(2):
        wrong = sandbox_finish(owner, link_token, "not-a-sandbox-key")
        assert wrong.status_code == 400
        body = wrong.json()
        assert body["error_description"] == "Invalid API key"
        assert body["credentials"][0]
        assert "not-a-sandbox-key" not in wrong.content.decode()
    # Merge's INCOMPLETE: the end user started linking and has not finished. One account for
    # both attempts, without credentials, saying why; never billed, never synced.
    account = LinkedAccount.objects.get()
    assert account.status == "INCOMPLETE" and account.credentials_encrypted == ""
    assert account.next_sync_at is None
    listed = owner.client(test=True).get("/api/hris/v1/linked-accounts").json()["results"]
    assert [a["id"] for a in listed] == [str(account.id)]
    assert "Invalid API key" in listed[0]["status_detail"]
    assert "not-a-sandbox-key" not in json.dumps(listed)
    assert [a.succeeded for a in account.link_attempts.all()] == [False, False]

    # A later link with the same origin id (this token, or a new one) completes that same account.
    done = sandbox_finish(owner, create_link_token(owner)["link_token"], "sk_sandbox_ok")
    assert done.status_code == 201
    exchanged = exchange(owner, done.json()["public_token"]).json()
    assert exchanged["id"] == str(account.id)
    assert LinkedAccount.objects.get().status == "COMPLETE"
    assert sandbox_finish(owner, link_token, "sk_sandbox_ok").status_code == 201  # the first token too
    assert LinkedAccount.objects.count() == 1


@pytest.mark.parametrize(
    "credentials, words",
    [
        ({}, "Enter your API key"),
        ({"api_key": "  "}, "Enter your API key"),
        ({"api_key": "sk_sandbox_a", "password": "x"}, "Unknown credential field"),
    ],
)
def test_bad_credential_shapes_are_400(owner, sandbox_provider, credentials, words):
    link_token = create_link_token(owner)["link_token"]
    response = owner.client(test=True).post(
        "/api/sandbox/v1/public-token",
        {"link_token": link_token, "integration": "sandbox", "credentials": credentials},
        format="json",
    )
    assert response.status_code == 400
    assert words in json.dumps(response.json())
    assert not LinkedAccount.objects.exists()


def test_integration_must_fit_the_token(owner, sandbox_provider):
    link_token = create_link_token(owner)["link_token"]
    response = sandbox_finish(owner, link_token, "sk_sandbox_a", integration="nosuch")
    assert response.status_code == 400 and "integration" in response.json()
    assert not LinkedAccount.objects.exists()


def test_test_key_link_token_cannot_touch_a_production_account(owner, sandbox_provider):
    production, production_token = owner.linked_account(origin_id="shared-origin")
    # A link token made with the production key is bound to the production account ...
    prod_link = create_link_token(owner, test=False, origin_id="shared-origin")["link_token"]
    # ... and a test key cannot finish it.
    response = sandbox_finish(owner, prod_link, "sk_sandbox_attacker")
    assert response.status_code == 400 and "not valid" in response.json()["link_token"][0]
    # A test-key link token for the same origin id makes (or relinks) a TEST account only.
    test_link = create_link_token(owner, origin_id="shared-origin")["link_token"]
    assert sandbox_finish(owner, test_link, "sk_sandbox_test").status_code == 201
    production = LinkedAccount.objects.get(pk=production.pk)
    assert linked_account_credentials(account=production) == {"api_key": "sk_sandbox_shared-origin"}
    assert linked_account_token(account=production) == production_token
    assert LinkedAccount.objects.filter(account_type="TEST", end_user_origin_id="shared-origin").count() == 1


def test_relink_keeps_the_account_resolves_credential_issues_and_says_so(
    owner, sandbox_provider, webhook_endpoint
):
    account, token = owner.linked_account(origin_id="relink-1", account_type="TEST")
    from accounts.services import linked_account_mark_relink_needed

    issue_record_failure(
        account=account, error_description="Invalid API key", detail="HTTP 401 from /v1/employees"
    )
    issue_record_failure(account=account, error_description="Rate limited", detail="HTTP 429")
    linked_account_mark_relink_needed(account=account, reason="The provider rejected the API key")

    data = create_link_token(owner, origin_id="relink-1")
    assert data["integration_name"] == "Sandbox HRIS"
    response = sandbox_finish(owner, data["link_token"], "sk_sandbox_new")
    assert response.status_code == 201
    exchanged = exchange(owner, response.json()["public_token"]).json()
    assert exchanged["id"] == str(account.id)
    assert exchanged["account_token"] == token

    account = LinkedAccount.objects.get(pk=account.pk)
    assert account.status == "COMPLETE"
    assert linked_account_credentials(account=account) == {"api_key": "sk_sandbox_new"}
    assert LinkedAccount.objects.count() == 1
    issues = dict(Issue.objects.filter(linked_account=account).values_list("error_description", "status"))
    assert issues == {"Invalid API key": "RESOLVED", "Rate limited": "ONGOING"}
    [hook] = deliveries(owner.organization, "LinkedAccount.linked")
    assert hook["data"] == {"is_relink": True}
    assert hook["linked_account"]["id"] == str(account.id)


def test_relink_cannot_switch_the_integration(owner, sandbox_provider):
    owner.linked_account(origin_id="relink-2", account_type="TEST")
    link_token = create_link_token(owner, origin_id="relink-2")["link_token"]
    response = sandbox_finish(owner, link_token, "sk_sandbox_a", integration="other")
    assert response.status_code == 400 and "reconnects the existing" in response.json()["integration"][0]


def test_credentials_never_reach_the_logs(owner, sandbox_provider, caplog):
    caplog.set_level(logging.DEBUG)
    link_token = create_link_token(owner)["link_token"]
    sandbox_finish(owner, link_token, "sk_wrong_secret_value")
    sandbox_finish(owner, link_token, "sk_sandbox_right_secret_value")
    text = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert "link finished" in caplog.text  # the logs were captured
    assert "wrong_secret_value" not in text and "right_secret_value" not in text
    from syncs.models import RequestLog

    assert RequestLog.objects.exists()
    dumped = json.dumps(list(RequestLog.objects.values()), default=str)
    assert "secret_value" not in dumped
