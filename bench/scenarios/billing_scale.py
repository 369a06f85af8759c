"""Billing at scale: one organization with 1,000,000 linked accounts and 10,000,000 status-history
rows (ten per account over the last four months, the last one in the current month; 1% of the
accounts deleted this month). The current month through the usage API (first page and a page in
the middle, totals on each) and the billing page; last month stored once, then read the same ways.

`BILLING_SCALE_ACCOUNTS` shrinks it (e.g. 100000 for a quick run). Seeding is COPY with the
history table's secondary indexes dropped and built again after (a sorted build is several
times faster than maintaining them row by row)."""

import os
import time
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.billing import billing_summary
from accounts.billing_months import billing_month_close
from accounts.billing_pages import encode_cursor
from accounts.crypto import encrypt_str
from accounts.ids import uuid7
from accounts.services import api_key_create, membership_add, organization_create
from bench.harness import bulk_copy, copy_linked_accounts, cpu_note, linked_account_row, plain_static_files

ACCOUNTS = int(os.environ.get("BILLING_SCALE_ACCOUNTS", "1000000"))
ROWS_PER_ACCOUNT = 10
CYCLE = ("COMPLETE", "RELINK_NEEDED", "COMPLETE", "IDLE", "COMPLETE", "RELINK_NEEDED", "COMPLETE", "IDLE")
HISTORY = "accounts_linkedaccountstatuschange"


def _statuses(n: int) -> list[str]:
    """An account's history: linked (INCOMPLETE), then the cycle; every 50th never completes;
    every 100th is deleted (its last change, this month)."""
    if n % 50 == 7:
        return ["INCOMPLETE"] * ROWS_PER_ACCOUNT
    statuses = ["INCOMPLETE"] + [CYCLE[(i + n) % len(CYCLE)] for i in range(ROWS_PER_ACCOUNT - 1)]
    if n % 100 == 3:
        statuses[-1] = "DELETED"
    return statuses


def _seed(now: datetime):
    organization, _, _ = organization_create(name="Billing scale bench")
    this_month = datetime(now.year, now.month, 1, tzinfo=UTC)
    since_month = max((now - this_month).total_seconds() - 60, 60)
    first = this_month - timedelta(days=100)
    encrypted = encrypt_str("bench-token")
    ids = [uuid7() for _ in range(ACCOUNTS)]

    def account_rows():
        for n, account_id in enumerate(ids):
            statuses = _statuses(n)
            if statuses[-1] == "DELETED":
                continue
            yield linked_account_row(
                n=n,
                account_id=account_id,
                organization_id=organization.id,
                account_type="TEST" if n % 10 == 9 else "PRODUCTION",
                origin_id=f"origin-{n}",
                status=statuses[-1],
                created=(first + timedelta(seconds=n % 86400)).isoformat(),
                token_hash=f"{n:064x}",
                token_encrypted=encrypted,
            )

    copy_linked_accounts(account_rows())

    def history_rows():
        org = str(organization.id)
        for n, account_id in enumerate(ids):
            uid, account_type = str(account_id), "TEST" if n % 10 == 9 else "PRODUCTION"
            created = first + timedelta(seconds=n % 86400)
            previous = ""
            for i, status in enumerate(_statuses(n)):
                if i < ROWS_PER_ACCOUNT - 1:  # over the 100 days before this month
                    at = created + timedelta(days=11 * i, minutes=n % 1440)
                else:  # the last change: this month, before now
                    at = this_month + timedelta(seconds=(n * 7919) % since_month)
                stamp = at.isoformat()
                # The account link (a nullable FK) stays NULL: billing reads linked_account_uuid.
                yield (org, None, uid, account_type, previous, status, "bench", stamp, "{}", stamp)
                previous = status

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint)",
            [HISTORY],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    columns = ["organization_id", "linked_account_id", "linked_account_uuid", "account_type", "from_status",
               "to_status", "reason", "at", "account_snapshot", "processed_at"]  # fmt: skip
    bulk_copy(HISTORY, columns, history_rows())
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute("VACUUM ANALYZE accounts_linkedaccount")
        cursor.execute(f"VACUUM ANALYZE {HISTORY}")
        cursor.execute(f"SELECT count(*) FROM {HISTORY} WHERE organization_id = %s", [organization.id])  # noqa: S608
        (history,) = cursor.fetchone()
    user = get_user_model().objects.create_user(username="billing-scale", password="bench-password-1")
    membership_add(user=user, organization=organization)
    client = Client()
    client.force_login(user)
    _, key = api_key_create(organization=organization, environment="PRODUCTION", name="bench")
    return organization, client, key, history, ids


def run(report):
    with plain_static_files():
        _run(report)


def _row(report, scenario: str, *, size: str, fn, n: int, ms: int, note: str = "") -> None:
    """A latency row after one call of warm-up (timed apart: the current month's first read
    of the day computes its totals), with the CPU per call of the measured calls."""
    notes: list[str] = []
    with cpu_note(1, notes):
        t0 = time.perf_counter()
        fn()
        first_ms = (time.perf_counter() - t0) * 1000
    with cpu_note(n, notes):
        row = report.latency(
            scenario, size=size, fn=fn, n=n, warmup=0, target=f"p99 <= {ms} ms", ok=lambda r: r.p99_ms <= ms
        )
    row.note = "; ".join(filter(None, [note, notes[1], f"first call {first_ms:,.0f} ms ({notes[0]})"]))


def _run(report):
    now = timezone.now()
    t0 = time.perf_counter()
    organization, client, key, history, ids = _seed(now)
    print(f"  seeded {ACCOUNTS:,} accounts, {history:,} history rows in {time.perf_counter() - t0:.0f} s")
    size = f"{ACCOUNTS / 1e6:g}M accounts, {history / 1e6:g}M history rows"
    this_month = f"{now:%Y-%m}"
    last_month = f"{(now.replace(day=1) - timedelta(days=1)):%Y-%m}"
    middle = encode_cursor(str(ids[len(ids) // 2]))

    def api(month: str, cursor: str | None = None):
        def call():
            params = {"month": month, "page_size": 1000, **({"cursor": cursor} if cursor else {})}
            response = client.get("/api/billing/v1/usage", params, HTTP_AUTHORIZATION=f"Bearer {key}")
            assert response.status_code == 200, response.content[:300]
            body = response.json()
            assert len(body["accounts"]) > 500 and body["next"] and body["billable_account_days"] > 0

        return call

    def page(month: str):
        def call():
            response = client.get("/billing", {"month": month})
            assert response.status_code == 200 and response.content.count(b"data-account=") == 200

        return call

    def summary():
        assert (
            billing_summary(organization=organization, month=now.date().replace(day=1))["days_counted"] >= 0
        )

    current = "current month, not stored"
    _row(
        report, f"billing: GET usage?page_size=1000, {current}", size=size, fn=api(this_month), n=10, ms=1500
    )
    _row(report, "billing: GET usage, a page in the middle, " + current, size=size, fn=api(this_month, middle), n=10, ms=1500)  # fmt: skip
    _row(report, f"billing: dashboard Billing page, {current}", size=size, fn=page(this_month), n=10, ms=1500)
    _row(report, "billing: billing_summary, current month", size=size, fn=summary, n=10, ms=1500, note="the totals alone, not kept: the first read of a day")  # fmt: skip

    t0 = time.perf_counter()
    client.get("/billing", {"month": last_month})  # its first read stores it
    report.throughput(
        f"billing: store a closed month ({last_month}), once",
        size=size,
        count=ACCOUNTS,
        seconds=time.perf_counter() - t0,
        note="accounts per second; the monthly beat job (or the month's first read)",
    )
    assert not billing_month_close(
        organization=organization, month=now.date().replace(day=1) - timedelta(days=1)
    )
    closed = "closed month, stored"
    _row(report, f"billing: GET usage?page_size=1000, {closed}", size=size, fn=api(last_month), n=20, ms=150)
    _row(report, f"billing: GET usage, a page in the middle, {closed}", size=size, fn=api(last_month, middle), n=20, ms=150)  # fmt: skip
    _row(report, f"billing: dashboard Billing page, {closed}", size=size, fn=page(last_month), n=20, ms=150)
