"""The operator dashboard at scale: one organization with 100,000 linked accounts and 1,000,000
status-history rows (ten per account over ten months). The Linked accounts page, server-side
through Django's test client, and one month's billing computed from the history."""

import time
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.billing import billing_summary, billing_usage
from accounts.billing_months import billing_month_close
from accounts.crypto import encrypt_str, token_hash
from accounts.ids import uuid7
from accounts.models import LinkedAccount
from accounts.services import api_key_create, membership_add, organization_create
from bench.harness import bulk_copy, copy_linked_accounts, cpu_note, linked_account_row, plain_static_files

ACCOUNTS = 100_000
ROWS_PER_ACCOUNT = 10
START = datetime(2026, 1, 1, tzinfo=UTC)
MONTH = date(2026, 9, 1)
# The life of an account after it is linked: every ~25 days a change.
CYCLE = ("COMPLETE", "RELINK_NEEDED", "COMPLETE", "IDLE", "COMPLETE", "RELINK_NEEDED", "COMPLETE", "IDLE")


def _seed():
    organization, _, _ = organization_create(name="Dashboard bench")
    encrypted = encrypt_str("bench-token")
    accounts = []

    def account_rows():
        for n in range(ACCOUNTS):
            account_id = uuid7()
            created = START + timedelta(minutes=n)
            account_type = "TEST" if n % 10 == 9 else "PRODUCTION"
            # The status it ends in, as the last history row says.
            status = "INCOMPLETE" if n % 50 == 7 else CYCLE[(ROWS_PER_ACCOUNT - 2 + n) % len(CYCLE)]
            accounts.append((account_id, created, account_type, n))
            yield linked_account_row(
                n=n,
                account_id=account_id,
                organization_id=organization.id,
                account_type=account_type,
                origin_id=f"origin-{n}",
                status=status,
                created=created.isoformat(),
                token_hash=token_hash(f"dash-bench-{n}"),
                token_encrypted=encrypted,
            )

    copy_linked_accounts(
        account_rows(),
    )

    def history_rows():
        for account_id, created, account_type, n in accounts:
            previous = ""
            statuses = ["INCOMPLETE"]
            if n % 50 != 7:
                statuses += [CYCLE[(i + n) % len(CYCLE)] for i in range(ROWS_PER_ACCOUNT - 1)]
            else:
                statuses += ["INCOMPLETE"] * (ROWS_PER_ACCOUNT - 1)
            for i, status in enumerate(statuses):
                at = (
                    created
                    + timedelta(hours=1) * (i > 0)
                    + timedelta(days=25 * max(0, i - 1), minutes=n % 1440)
                )
                yield (
                    str(organization.id),
                    str(account_id),
                    str(account_id),
                    account_type,
                    previous,
                    status,
                    "bench",
                    at.isoformat(),
                    "{}",
                    at.isoformat(),
                )
                previous = status

    bulk_copy(
        "accounts_linkedaccountstatuschange",
        [
            "organization_id",
            "linked_account_id",
            "linked_account_uuid",
            "account_type",
            "from_status",
            "to_status",
            "reason",
            "at",
            "account_snapshot",
            "processed_at",
        ],
        history_rows(),
    )
    with connection.cursor() as cursor:
        # The steady state autovacuum keeps: statistics and the visibility map (index-only scans).
        cursor.execute("VACUUM ANALYZE accounts_linkedaccount")
        cursor.execute("VACUUM ANALYZE accounts_linkedaccountstatuschange")
        cursor.execute(
            "SELECT count(*) FROM accounts_linkedaccountstatuschange WHERE organization_id = %s",
            [organization.id],
        )
        (history,) = cursor.fetchone()
    user = get_user_model().objects.create_user(username="bench-operator", password="bench-password-1")
    membership_add(user=user, organization=organization)
    client = Client()
    client.force_login(user)
    return organization, client, history


def run(report):
    with plain_static_files():
        _run(report)


def p99_at_most(ms: int) -> dict:
    """A latency row's target and check: p99 at most `ms` milliseconds."""
    return {"target": f"p99 <= {ms} ms", "ok": lambda r: r.p99_ms <= ms}


def latency_with_cpu(report, scenario: str, *, size: str, fn, n: int, warmup: int, ms: int):
    """A latency row (p99 at most `ms`) and the CPU per call of its calls."""
    notes: list[str] = []
    with cpu_note(n + warmup, notes):
        row = report.latency(scenario, size=size, fn=fn, n=n, warmup=warmup, **p99_at_most(ms))
    return row, notes[0]


def _run(report):
    organization, client, history = _seed()
    size = f"{ACCOUNTS // 1000}k accounts, {history / 1e6:.1f}M history rows"

    def page(url, rows=50):
        def call():
            response = client.get(url)
            assert response.status_code == 200, response.status_code
            assert response.content.count(b"data-account=") == rows

        return call

    for scenario, url, n, target in [
        ("dashboard: Linked accounts page", "/accounts", 200, p99_at_most(150)),
        (
            "dashboard: Linked accounts, Relink needed, production",
            "/accounts?status=RELINK_NEEDED&environment=production",
            100,
            p99_at_most(150),
        ),
        ("dashboard: Linked accounts sorted by name", "/accounts?sort=name", 100, {"note": "no target"}),
    ]:
        report.latency(scenario, size=size, fn=page(url), n=n, **target)

    # The list's Sync cells come from the syncs app in a second request, as the page loads.
    newest = LinkedAccount.objects.filter(organization=organization).order_by("-created_at", "-id")[:50]
    badges_url = "/accounts/sync-badges?" + "&".join(
        f"account={pk}" for pk in newest.values_list("id", flat=True)
    )

    def badges():
        response = client.get(badges_url, HTTP_HX_REQUEST="true")
        assert response.status_code == 200 and response.content.count(b'hx-swap-oob="true"') == 50

    report.latency(
        "dashboard: Linked accounts' sync badges (50 accounts)",
        size=size,
        fn=badges,
        n=100,
        **p99_at_most(150),
    )

    def usage():
        result = billing_usage(organization=organization, month=MONTH)
        assert len(result["accounts"]) == ACCOUNTS and result["billable_account_days"] > 0

    row, cpu = latency_with_cpu(
        report,
        f"billing_usage({MONTH:%Y-%m}): totals + every account",
        size=size,
        fn=usage,
        n=15,
        warmup=2,
        ms=500,
    )
    row.note = f"the live computation (an open month's path); {cpu}"

    def summary():
        assert billing_summary(organization=organization, month=MONTH)["billable_account_days"] > 0

    report.latency(
        f"billing_summary({MONTH:%Y-%m}): totals",
        size=size,
        fn=summary,
        n=30,
        warmup=3,
        note="the live computation",
        **p99_at_most(500),
    )

    # A closed month is stored once (the monthly beat job, or its first read), then read back.
    t0 = time.perf_counter()
    assert billing_month_close(organization=organization, month=MONTH)
    report.throughput(
        f"billing: store a closed month ({MONTH:%Y-%m}), once",
        size=size,
        count=ACCOUNTS,
        seconds=time.perf_counter() - t0,
        note="accounts per second; the monthly beat job (or the month's first read)",
    )
    _, production_key = api_key_create(organization=organization, environment="PRODUCTION", name="bench")

    def usage_api():
        response = client.get(
            f"/api/billing/v1/usage?month={MONTH:%Y-%m}", HTTP_AUTHORIZATION=f"Bearer {production_key}"
        )
        assert response.status_code == 200
        assert sum(len(chunk) for chunk in response.streaming_content) > ACCOUNTS * 250

    def billing_page():
        response = client.get(f"/billing?month={MONTH:%Y-%m}")
        assert response.status_code == 200 and response.content.count(b"data-account=") == 200

    def usage_page(month: str):
        def call():
            response = client.get(
                f"/api/billing/v1/usage?month={month}&page_size=1000",
                HTTP_AUTHORIZATION=f"Bearer {production_key}",
            )
            assert response.status_code == 200 and len(response.json()["accounts"]) == 1000

        return call

    def current_page():
        response = client.get("/billing")
        assert response.status_code == 200 and response.content.count(b"data-account=") == 200

    current = f"{timezone.now():%Y-%m}"
    for scenario, fn, n, note in [
        ("GET /api/billing/v1/usage (closed month, every production account)", usage_api, 15, "{cpu}"),
        (
            "dashboard: Billing page (totals + top 200)",
            billing_page,
            30,
            "closed month, stored; the first 200 by id; {cpu}",
        ),
        (
            "GET /api/billing/v1/usage?page_size=1000 (closed month)",
            usage_page(f"{MONTH:%Y-%m}"),
            30,
            "{cpu}",
        ),
        (
            "GET /api/billing/v1/usage?page_size=1000 (current month)",
            usage_page(current),
            30,
            "not stored; {cpu}",
        ),
        (
            "dashboard: Billing page, current month",
            current_page,
            30,
            "not stored; the first 200 by id; {cpu}",
        ),
    ]:
        row, cpu = latency_with_cpu(report, scenario, size=size, fn=fn, n=n, warmup=2, ms=150)
        row.note = note.format(cpu=cpu)
