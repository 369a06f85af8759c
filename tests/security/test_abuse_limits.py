"""Abuse limits: API rate limits per API key and per account token (real Redis), fail-open when
Redis is unreachable, dashboard login throttling, request body size limits.

Defends against: one tenant or one guessed token flooding the API, password guessing on every
login path, credential stuffing through the link page and the sandbox public-token endpoint
(each a live provider call), and oversized or malformed bodies tying up workers.

Test by test (what each defends against):
- test_account_token_limit_gives_429_with_retry_after: one account token flooding the API; clients learn
  when to retry.
- test_api_key_limit_counts_every_request_of_the_key: one API key spreading a flood over many accounts.
- test_organization_endpoints_do_not_count_against_the_account: SDK clients locked out by organization
  calls counted against an account.
- test_the_window_ends_and_requests_pass_again: a limit that never lifts (a permanent lock-out).
- test_unknown_tokens_are_counted_too: guessing account tokens without limit.
- test_redis_keys_hold_no_raw_secret: API keys or tokens readable in Redis.
- test_redis_down_fails_open_and_warns_once: a Redis outage taking the API down, or flooding the logs.
- test_limits_can_be_switched_off: limits that cannot be turned off for a load test.
- test_login_locks_after_failures_per_username_and_ip: password guessing from one address.
- test_login_lock_ends_with_its_window_and_success_clears_failures: operators locked out for good.
- test_login_locks_an_address_spraying_many_usernames: one address spraying one password over many usernames.
- test_oversized_api_body_is_a_clean_413: huge bodies exhausting memory.
- test_malformed_json_is_a_json_400: malformed JSON answered with a 500 or an HTML page.
- test_bad_content_length_is_a_json_400: a lying Content-Length answered with a 500.
- test_api_answers_are_never_cached: tokens and data kept by shared caches.
- test_admin_login_obeys_the_same_throttle: unthrottled guessing through /admin/login/.
- test_login_locks_a_username_guessed_from_many_addresses: one username guessed from many addresses.
- test_link_page_caps_credential_checks_per_link_token: credential stuffing through one link page.
- test_credential_checks_are_capped_per_address_across_link_tokens: one address stuffing credentials
  through many link tokens.
- test_sandbox_public_token_shares_the_per_token_cap: the sandbox endpoint as a way around the link page's
  cap.
"""

import json
import logging
import random
import time
import uuid

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from accounts import ratelimit
from accounts.models import LinkedAccount
from tests.conftest import wait_until

ACCOUNT_DETAILS = "/api/hris/v1/account-details"
LINKED_ACCOUNTS = "/api/hris/v1/linked-accounts"


@pytest.fixture(autouse=True)
def fresh_breaker(monkeypatch):
    monkeypatch.setattr(ratelimit, "_breaker", ratelimit._Breaker())


def _with(settings, **values):
    """pytest-django's `settings` with these values (undone after the test)."""
    for name, value in values.items():
        setattr(settings, name, value)
    return settings


@pytest.fixture
def limits(settings):
    return _with(
        settings,
        RATE_LIMIT_ENABLED=True,
        RATE_LIMIT_WINDOW_SECONDS=60,
        RATE_LIMIT_ACCOUNT_REQUESTS=3,
        RATE_LIMIT_KEY_REQUESTS=1000,
    )


def test_account_token_limit_gives_429_with_retry_after(owner, limits):
    _, token = owner.linked_account(origin_id="a1")
    _, other_token = owner.linked_account(origin_id="a2")
    client = owner.client(account_token=token)
    for _ in range(3):
        assert client.get(ACCOUNT_DETAILS).status_code == 200
    response = client.get(ACCOUNT_DETAILS)
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert body["scope"] == "linked_account"
    assert body["limit"] == 3
    assert body["retry_after"] == retry_after
    assert "X-Account-Token" in body["detail"]
    # Per account: another account of the same key is not held back.
    assert owner.client(account_token=other_token).get(ACCOUNT_DETAILS).status_code == 200


def test_api_key_limit_counts_every_request_of_the_key(owner, limits):
    limits.RATE_LIMIT_KEY_REQUESTS = 4
    _, token = owner.linked_account(origin_id="k1")
    client = owner.client()
    assert client.get(LINKED_ACCOUNTS).status_code == 200
    assert client.get(LINKED_ACCOUNTS).status_code == 200
    with_token = owner.client(account_token=token)
    assert with_token.get(ACCOUNT_DETAILS).status_code == 200
    assert with_token.get(ACCOUNT_DETAILS).status_code == 200
    response = client.get(LINKED_ACCOUNTS)
    assert response.status_code == 429
    assert response.json()["scope"] == "api_key"
    assert int(response["Retry-After"]) >= 1
    # The organization's other key (test environment) has its own counter.
    assert owner.client(test=True).get(LINKED_ACCOUNTS).status_code == 200


def test_organization_endpoints_do_not_count_against_the_account(owner, limits):
    """SDK clients send X-Account-Token on every call; organization-level endpoints ignore it."""
    _, token = owner.linked_account(origin_id="o1")
    client = owner.client(account_token=token)
    for _ in range(6):
        assert client.get(LINKED_ACCOUNTS).status_code == 200
    assert client.get(ACCOUNT_DETAILS).status_code == 200


def test_the_window_ends_and_requests_pass_again(owner, limits):
    # A window of seconds: the three requests fit in it even on a loaded machine.
    limits.RATE_LIMIT_WINDOW_SECONDS = 3
    limits.RATE_LIMIT_ACCOUNT_REQUESTS = 2
    _, token = owner.linked_account(origin_id="w1")
    client = owner.client(account_token=token)
    started = time.monotonic()
    assert client.get(ACCOUNT_DETAILS).status_code == 200
    assert client.get(ACCOUNT_DETAILS).status_code == 200
    limited = client.get(ACCOUNT_DETAILS)
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 3
    # Refused until the window ends, then served again: waited for by the first 200.
    wait_until(lambda: client.get(ACCOUNT_DETAILS).status_code == 200, timeout=30, interval=0.25)
    assert time.monotonic() - started >= 2.9


def test_unknown_tokens_are_counted_too(owner, limits):
    """Guessing account tokens runs into the limit like any other request."""
    client = owner.client(account_token=f"not-a-real-token-{uuid.uuid4().hex}")
    statuses = [client.get(ACCOUNT_DETAILS).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_redis_keys_hold_no_raw_secret(owner, limits):
    _, token = owner.linked_account(origin_id="s1")
    owner.client(account_token=token).get(ACCOUNT_DETAILS)
    r = redis.Redis.from_url(django_settings.REDIS_URL)
    keys = [k.decode() for k in r.scan_iter(match="relink:rl:*", count=1000)]
    assert keys, "the limiter wrote no counter"
    assert not [k for k in keys if token in k or owner.production_key in k]


def test_redis_down_fails_open_and_warns_once(owner, limits, caplog):
    """The API keeps serving stored data while Redis is unreachable."""
    limits.RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    _, token = owner.linked_account(origin_id="d1")
    client = owner.client(account_token=token)
    caplog.set_level(logging.WARNING, logger="accounts.ratelimit")
    started = time.monotonic()
    statuses = [client.get(ACCOUNT_DETAILS).status_code for _ in range(10)]
    elapsed = time.monotonic() - started
    assert statuses == [200] * 10  # over the limit of 3, yet served
    warnings = [r for r in caplog.records if r.name == "accounts.ratelimit"]
    assert len(warnings) == 1
    assert "failing open" in warnings[0].getMessage()
    # The breaker skips Redis after the first failure: no connect attempt per request.
    assert elapsed < 5


def test_limits_can_be_switched_off(owner, limits):
    limits.RATE_LIMIT_ENABLED = False
    _, token = owner.linked_account(origin_id="off1")
    client = owner.client(account_token=token)
    assert [client.get(ACCOUNT_DETAILS).status_code for _ in range(5)] == [200] * 5


# Dashboard login throttling.


@pytest.fixture
def login_limits(settings):
    return _with(settings, LOGIN_FAILURES_PER_USER_IP=3, LOGIN_FAILURES_PER_IP=6, LOGIN_LOCKOUT_SECONDS=60)


def _random_ip() -> str:
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _operator(password="correct horse battery staple"):  # noqa: S107
    name = f"op-{uuid.uuid4().hex[:8]}"
    get_user_model().objects.create_user(username=name, password=password)
    return name, password


def _login(client, ip, username, password):
    return client.post("/login", {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_login_locks_after_failures_per_username_and_ip(login_limits):
    username, password = _operator()
    ip = _random_ip()
    client = Client()
    assert _login(client, ip, username, "wrong-1").status_code == 200
    assert _login(client, ip, username, "wrong-2").status_code == 200
    locked = _login(client, ip, username, "wrong-3")
    assert locked.status_code == 429
    assert "Too many failed login attempts" in locked.content.decode()
    assert 1 <= int(locked["Retry-After"]) <= 60
    # Locked means locked: the right password is not even checked.
    again = _login(client, ip, username, password)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session
    # The same user from another address, and another user from this one, can still log in.
    assert _login(Client(), _random_ip(), username, password).status_code == 302
    other, other_password = _operator()
    assert _login(Client(), ip, other, other_password).status_code == 302


@pytest.mark.django_db
def test_login_lock_ends_with_its_window_and_success_clears_failures(login_limits):
    # A window long enough for four logins on a loaded machine, short enough to wait out.
    login_limits.LOGIN_LOCKOUT_SECONDS = 6
    username, password = _operator()
    ip = _random_ip()
    for i in range(3):
        _login(Client(), ip, username, f"wrong-{i}")
    locked = _login(Client(), ip, username, password)
    assert locked.status_code == 429
    time.sleep(int(locked["Retry-After"]) + 0.2)
    assert _login(Client(), ip, username, password).status_code == 302
    # A success clears the (username, IP) failures: two more failures do not lock.
    login_limits.LOGIN_LOCKOUT_SECONDS = 60
    _login(Client(), ip, username, "wrong-a")
    _login(Client(), ip, username, "wrong-b")
    assert _login(Client(), ip, username, password).status_code == 302


@pytest.mark.django_db
def test_login_locks_an_address_spraying_many_usernames(login_limits):
    ip = _random_ip()
    statuses = [_login(Client(), ip, f"nobody-{i}-{uuid.uuid4().hex[:6]}", "x").status_code for i in range(6)]
    assert statuses[-1] == 429
    username, password = _operator()
    assert _login(Client(), ip, username, password).status_code == 429


# Request bodies.


def test_oversized_api_body_is_a_clean_413(owner, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    account, token = owner.linked_account(origin_id="big1")
    body = json.dumps({"padding": "x" * (2 * 1024 * 1024)})
    response = owner.client(account_token=token).post(
        "/api/hris/v1/delete-account", data=body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "too large" in response.json()["detail"]
    assert LinkedAccount.objects.filter(pk=account.pk).exists()


def test_malformed_json_is_a_json_400(owner):
    response = owner.client().post(
        "/api/hris/v1/link-token", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()


def test_bad_content_length_is_a_json_400(owner):
    response = owner.client().post(
        "/api/hris/v1/linked-accounts", data="{}", content_type="application/json", CONTENT_LENGTH="abc"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid Content-Length header."


def test_api_answers_are_never_cached(owner):
    _, token = owner.linked_account(origin_id="cache1")
    response = owner.client(account_token=token).post("/api/hris/v1/account-token/regenerate")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def _admin_login(client, ip, username, password):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


@pytest.mark.django_db
def test_admin_login_obeys_the_same_throttle(login_limits):
    """Finding 1: /admin/login/ accepted unlimited guesses (only /login was throttled)."""
    name = f"admin-{uuid.uuid4().hex[:8]}"
    password = "correct horse battery staple"  # noqa: S105
    get_user_model().objects.create_superuser(username=name, password=password, email="")
    ip = _random_ip()
    for i in range(3):
        assert _admin_login(Client(), ip, name, f"wrong-{i}").status_code == 200
    client = Client()
    locked = _admin_login(client, ip, name, password)
    # The right password is refused while the lock holds: the admin never logs this client in.
    assert locked.status_code == 200
    assert "_auth_user_id" not in client.session
    # From another address the superuser still gets in.
    other = Client()
    assert _admin_login(other, _random_ip(), name, password).status_code == 302
    assert "_auth_user_id" in other.session


@pytest.mark.django_db
def test_login_locks_a_username_guessed_from_many_addresses(login_limits):
    """A spray over many addresses at one username: the per-username limit holds across addresses."""
    login_limits.LOGIN_FAILURES_PER_USER = 4
    username, password = _operator()
    for i in range(4):
        assert _login(Client(), _random_ip(), username, f"wrong-{i}").status_code in (200, 429)
    locked = _login(Client(), _random_ip(), username, password)
    assert locked.status_code == 429
    # Failures at admin and dashboard add up: they are one counter.
    assert _admin_login(Client(), _random_ip(), username, password).status_code == 200


# Credential checks (finding 7): each one is a live provider call.


@pytest.fixture
def attempt_limits(settings):
    return _with(settings, LINK_ATTEMPTS_PER_TOKEN=3, LINK_ATTEMPTS_PER_IP=5, LINK_ATTEMPT_WINDOW_SECONDS=600)


def _link_token(owner, origin_id):
    body = {
        "end_user_email_address": f"{origin_id}@example.com",
        "end_user_organization_name": "Capped Ltd",
        "end_user_origin_id": origin_id,
        "categories": ["hris"],
    }
    return owner.client(test=True).post("/api/hris/v1/link-token", body, format="json").json()["link_token"]


def _page_submit(link_token, api_key, ip):
    client = Client()
    return client.post(f"/link/{link_token}/sandbox/submit", {"credential-api_key": api_key}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_link_page_caps_credential_checks_per_link_token(owner, sandbox_provider, attempt_limits):
    link_token = _link_token(owner, f"capped-{uuid.uuid4().hex[:6]}")
    for i in range(3):
        response = _page_submit(link_token, f"wrong_key_{i}_value", _random_ip())
        assert response.status_code == 200
        assert "Too many attempts" not in response.content.decode()
    capped = _page_submit(link_token, "sk_sandbox_right_key", _random_ip())
    assert capped.status_code == 429
    assert "Too many attempts to connect" in capped.content.decode()
    assert 1 <= int(capped["Retry-After"]) <= 600
    # Even the right key is not checked while capped: nothing was linked (the failed attempts
    # left their account INCOMPLETE).
    assert (
        not LinkedAccount.objects.filter(organization=owner.organization)
        .exclude(status="INCOMPLETE")
        .exists()
    )


@pytest.mark.django_db
def test_credential_checks_are_capped_per_address_across_link_tokens(owner, sandbox_provider, attempt_limits):
    ip = _random_ip()
    statuses = [
        _page_submit(
            _link_token(owner, f"spray-{i}-{uuid.uuid4().hex[:6]}"), "wrong_key_value", ip
        ).status_code
        for i in range(5)
    ]
    assert statuses == [200] * 5
    assert _page_submit(_link_token(owner, "one-more"), "sk_sandbox_right_key", ip).status_code == 429
    # Another address is not affected.
    assert (
        _page_submit(_link_token(owner, "elsewhere"), "sk_sandbox_right_key", _random_ip()).status_code == 200
    )


@pytest.mark.django_db
def test_sandbox_public_token_shares_the_per_token_cap(owner, sandbox_provider, attempt_limits):
    link_token = _link_token(owner, f"api-capped-{uuid.uuid4().hex[:6]}")
    api = owner.client(test=True)
    body = {"link_token": link_token, "integration": "sandbox", "credentials": {"api_key": "wrong_key_value"}}
    for _ in range(3):
        assert api.post("/api/sandbox/v1/public-token", body, format="json").status_code == 400
    body["credentials"] = {"api_key": "sk_sandbox_right_key"}
    capped = api.post("/api/sandbox/v1/public-token", body, format="json")
    assert capped.status_code == 429
    assert "Too many attempts" in capped.json()["detail"]
    assert (
        not LinkedAccount.objects.filter(organization=owner.organization)
        .exclude(status="INCOMPLETE")
        .exists()
    )
