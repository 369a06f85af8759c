"""What the API rate limiter costs per request (one Redis round trip counting the key and the
account token), and what a request costs while Redis is down (fail open behind a breaker)."""

from django.conf import settings
from django.test import Client

from accounts import ratelimit
from accounts.models import AccountType
from accounts.services import linked_account_mark_complete, organization_create
from bench.harness import sandbox_linked_account


def run(report):
    organization, _, test_key = organization_create(name="Rate limit bench")
    account, token = sandbox_linked_account(
        organization,
        origin_id="rl-bench",
        account_type=AccountType.TEST,
        credentials={"api_key": "sk_sandbox_rl"},
    )
    linked_account_mark_complete(account=account, reason="bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {test_key}", HTTP_X_ACCOUNT_TOKEN=token)

    def details():
        response = client.get("/api/hris/v1/account-details")
        assert response.status_code == 200, response.content

    saved = (settings.RATE_LIMIT_ENABLED, settings.RATE_LIMIT_REDIS_URL)
    try:
        settings.RATE_LIMIT_ENABLED = False
        off = report.latency("GET /account-details, rate limiter off", size="1 account", fn=details, n=400)
        settings.RATE_LIMIT_ENABLED = True
        report.latency(
            "GET /account-details, rate limiter on",
            size="1 account",
            fn=details,
            n=400,
            target="median <= off + 1 ms",
            ok=lambda row: row.median_ms <= off.median_ms + 1,
        )
        settings.RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
        ratelimit._breaker = ratelimit._Breaker()
        report.latency(
            "GET /account-details, Redis down (fail open)",
            size="1 account",
            fn=details,
            n=400,
            target="p99 <= off p99 + 2 ms",
            ok=lambda row: row.p99_ms <= off.p99_ms + 2,
        )
    finally:
        settings.RATE_LIMIT_ENABLED, settings.RATE_LIMIT_REDIS_URL = saved
        ratelimit._breaker = ratelimit._Breaker()
