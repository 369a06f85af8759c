"""Closed months' billing, computed once and kept (BillingMonth, BillingMonthAccount), and the
month's totals as the billing page reads them: a closed month's from its snapshot, the current
month's from the status history (accounts.billing). The paged reads of both (the usage API's
body, the page's table, the CSV) are in accounts.billing_pages.

A month that is over never changes: its numbers come from status-history rows, which are only
ever appended, with times that are past. So the first read of a closed month (or the monthly
beat task) computes it the usual way and stores each account's days, the month's totals per
environment and each account's API entry, rendered. Later reads serve those: the totals are one
row, the billing page's top accounts an index range, and the API's 100k entries are stored text
joined into one body (no per-account Python objects, no JSON encoding).

What does change after a month closes is who an account is now (its name, its status "now", or
that it was deleted): that is not part of the month's numbers, and the API shows it as it is
when asked. Each stored entry keeps the fields it was rendered from; an entry whose account no
longer shows them is rendered again from the live row (or, for an account deleted since, from
its DELETED history row, as the live computation does). A closed month read from its snapshot is
therefore always what the live computation would answer.
"""

import uuid
from datetime import date, timedelta
from typing import Any

import orjson
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from . import billing
from .models import AccountType, BillingMonth, BillingMonthAccount, Organization

# A month is snapshotted this long after it ends: a status change stamped just before midnight
# may commit a moment after it.
CLOSE_GRACE = timedelta(hours=1)
# Rows per INSERT when writing a snapshot.
WRITE_BATCH = 5000
NUMBERS = ("billable_days", "relink_needed_days", "incomplete_days", "test_days", "deleted_days")


def billing_month_is_closed(*, month: date) -> bool:
    _, last_day = billing.month_bounds(month)
    return timezone.now() >= billing._utc_midnight(last_day + timedelta(days=1)) + CLOSE_GRACE


def billing_month_close(*, organization: Organization, month: date) -> bool:
    """Compute and store a closed month's billing for the organization, unless it is stored
    already (or the month is not over). True when this call wrote it. Safe under concurrent
    calls: the totals' unique constraint lets one writer through."""
    month = month.replace(day=1)
    if not billing_month_is_closed(month=month):
        return False
    if BillingMonth.objects.filter(organization=organization, month=month).exists():
        return False
    with transaction.atomic():
        try:
            with transaction.atomic():
                # The totals first, as zeros: a second writer waits here and then gives way.
                BillingMonth.objects.bulk_create(
                    BillingMonth(
                        organization=organization,
                        month=month,
                        account_type=account_type,
                        **dict.fromkeys(NUMBERS, 0),
                    )
                    for account_type in AccountType.values
                )
        except IntegrityError:
            return False  # another process stored it (it has committed: the insert waited for it)
        if connection.vendor == "postgresql":
            _store_accounts_in_sql(organization=organization, month=month)
        else:
            _store_accounts(organization=organization, month=month)
        stored = BillingMonthAccount.objects.filter(organization=organization, month=month)
        for row in stored.values("account_type").annotate(**{f: Sum(f) for f in NUMBERS}).order_by():
            BillingMonth.objects.filter(
                organization=organization, month=month, account_type=row.pop("account_type")
            ).update(**row)
    if connection.vendor == "postgresql":
        # Statistics for the new rows now (not at autovacuum's next pass): without them the
        # planner takes a 100k-row month for one row and picks a plan for one row.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE accounts_billingmonthaccount")
    return True


def _store_accounts(*, organization: Organization, month: date) -> None:
    """Each account's days and rendered entry, computed here (SQLite, the embedded default)."""
    rows = billing._account_rows(organization=organization, month=month)
    rows.sort(key=lambda r: uuid.UUID(r[0]))  # in account-id order, like the unique index
    accounts = billing._accounts_from_rows(organization=organization, rows=rows)
    BillingMonthAccount.objects.bulk_create(
        (
            BillingMonthAccount(
                organization=organization,
                month=month,
                linked_account_uuid=a["linked_account_id"],
                account_type=a["account_type"],
                **dict(zip(NUMBERS, _numbers(a), strict=True)),
                status=a["status"],
                end_user_origin_id=a["end_user_origin_id"],
                end_user_organization_name=a["end_user_organization_name"],
                integration=a["integration"],
                category=a["category"],
                entry=_render(a).decode(),
            )
            for a in accounts
        ),
        batch_size=WRITE_BATCH,
    )


def _store_accounts_in_sql(*, organization: Organization, month: date) -> None:
    """The same rows written by PostgreSQL from accounts.billing's query (INSERT ... SELECT): at
    1M accounts no Python object per account (the Python path took ~15 minutes and gigabytes).
    A deleted account's fields come from its DELETED history row's snapshot, as
    billing._attach_deleted_accounts reads them; the entry is the usage API's, as JSON."""
    fields = ("end_user_origin_id", "end_user_organization_name", "integration", "category")
    snap = {"end_user_origin_id": "end_user_origin_id", "end_user_organization_name": "end_user_organization_name",
            "integration": "integration_slug", "category": "category"}  # fmt: skip
    value = {f: f"COALESCE(a.{f}, d.snapshot ->> '{snap[f]}', '')" for f in fields}
    days = {"billable": "a.billable", "relink": "a.relink", "incomplete": "a.incomplete", "test": "a.test",
            "deleted": "a.deleted"}  # fmt: skip
    # row_to_json writes compact JSON (json_build_object puts " : " between key and value).
    excluded = "SELECT a.relink AS relink_needed, a.incomplete, a.test, a.deleted"
    named = ", ".join(f"{value[f]} AS {f}" for f in fields)
    entry = f"""(SELECT row_to_json(e)::text FROM (
        SELECT a.uid AS linked_account_id, {named}, a.account_type, COALESCE(a.status, 'DELETED') AS status,
               a.billable AS billable_days, (SELECT row_to_json(x) FROM ({excluded}) x) AS excluded_days
    ) e)"""  # noqa: S608 (built from constants)
    sql = f"""
        INSERT INTO accounts_billingmonthaccount (organization_id, month, linked_account_uuid, account_type,
            {", ".join(NUMBERS)}, status, {", ".join(fields)}, entry)
        SELECT %(org)s, %(month)s, a.uid::uuid, a.account_type, {", ".join(days.values())},
               COALESCE(a.status, 'DELETED'), {", ".join(value.values())}, {entry}
        FROM ({billing._billing_sql()}) a
        LEFT JOIN LATERAL (
            SELECT account_snapshot AS snapshot FROM accounts_linkedaccountstatuschange
            WHERE a.status IS NULL AND linked_account_uuid = a.uid::uuid AND to_status = 'DELETED' LIMIT 1
        ) d ON TRUE
        ORDER BY a.uid::uuid
    """  # noqa: S608 (built from constants; every value is a parameter)
    billing._billing_query(organization=organization, month=month, sql=sql, extra={"month": month})


def billing_months_close_previous(*, now=None) -> int:
    """The beat job: store last month for every organization that has none stored yet."""
    now = now or timezone.now()
    last_month = (now.date().replace(day=1) - timedelta(days=1)).replace(day=1)
    written = 0
    for organization in Organization.objects.exclude(
        pk__in=BillingMonth.objects.filter(month=last_month).values("organization_id")
    ).iterator():
        written += billing_month_close(organization=organization, month=last_month)
    return written


def _numbers(account: dict[str, Any]) -> tuple[int, ...]:
    excluded = account["excluded_days"]
    return (
        int(account["billable_days"]),
        *(int(excluded[reason]) for reason in billing.EXCLUSION_REASONS),
    )


def _render(account: dict[str, Any]) -> bytes:
    return orjson.dumps(account)


def _stored(*, organization: Organization, month: date) -> dict[str, BillingMonth] | None:
    """The month's stored totals by environment, or None when the month is not stored."""
    stored = {m.account_type: m for m in BillingMonth.objects.filter(organization=organization, month=month)}
    return stored or None


def _summary_from(
    stored: dict[str, BillingMonth], *, month: date, account_type: str | None
) -> dict[str, Any]:
    picked = [m for t, m in stored.items() if account_type in (None, t)]
    sums = [sum(getattr(m, field) for m in picked) for field in NUMBERS]
    return billing._summary(month=month, sums=sums)


# --- reads (what the views call) -------------------------------------------------------------


def billing_month_summary(
    *, organization: Organization, month: date, account_type: str | None = None
) -> dict[str, Any]:
    """The month's totals: stored for a closed month, computed otherwise (see below)."""
    stored = _stored(organization=organization, month=month)
    if stored is None:
        return billing_live_summary(organization=organization, month=month, account_type=account_type)
    return _summary_from(stored, month=month, account_type=account_type)


def billing_live_summary(
    *, organization: Organization, month: date, account_type: str | None
) -> dict[str, Any]:
    """A month's totals from the status history, kept (in the process's cache) until the next
    day ends. They cannot change before: a change stamped after the last counted midnight
    moves the account's current status and undoes itself in the same sum (accounts.billing:
    both terms weigh D days). As for closing a month, a change may commit up to CLOSE_GRACE
    after its stamp, so the first hour after midnight is always computed."""
    first_day, _, days = billing._billing_period(month=month)
    counted_to = billing._utc_midnight(first_day + timedelta(days=days))
    if not days or timezone.now() < counted_to + CLOSE_GRACE:
        return billing.billing_summary(organization=organization, month=month, account_type=account_type)
    key = f"billing-totals:{organization.pk}:{month:%Y-%m}:{account_type or 'all'}:{days}"
    totals = cache.get(key)
    if totals is None:
        totals = billing.billing_summary(organization=organization, month=month, account_type=account_type)
        cache.set(key, totals, timeout=int(timedelta(days=1).total_seconds()))
    return totals


def _uid_sql() -> str:
    return "s.linked_account_uuid::text" if connection.vendor == "postgresql" else "s.linked_account_uuid"


def _uuid_text(value: str) -> str:
    return value if connection.vendor == "postgresql" else str(uuid.UUID(value))


def _where(
    *,
    organization: Organization,
    month: date,
    account_type: str | None = None,
    after: uuid.UUID | None = None,
) -> tuple[str, dict[str, Any]]:
    clauses = ["s.organization_id = %(org)s", "s.month = %(month)s"]
    params: dict[str, Any] = {"org": billing._org_param(organization), "month": month}
    if account_type:
        clauses.append("s.account_type = %(account_type)s")
        params["account_type"] = account_type
    if after is not None:
        clauses.append("s.linked_account_uuid > %(after)s")
        params["after"] = after if connection.vendor == "postgresql" else after.hex
    return " AND ".join(clauses), params


def _snapshot_rows(
    *,
    organization: Organization,
    month: date,
    order: str = "",
    limit: int | None = None,
    after: uuid.UUID | None = None,
    ids: list[int] | None = None,
    with_pk: bool = False,
) -> list[tuple]:
    """Stored days joined with the account as it is now, in accounts.billing's row shape
    (status NULL for an account deleted since: billing._accounts_from_rows fills it in)."""
    where, params = _where(organization=organization, month=month, after=after)
    if ids is not None:
        where += f" AND s.id IN ({', '.join(str(int(i)) for i in ids)})"
    sql = f"""
        SELECT {_uid_sql()}, s.billable_days, s.relink_needed_days, s.incomplete_days, s.test_days, s.deleted_days,
               s.account_type, la.end_user_origin_id, la.end_user_organization_name, la.integration,
               la.category, la.status {", s.id" if with_pk else ""}
        FROM accounts_billingmonthaccount s
        LEFT JOIN accounts_linkedaccount la ON la.id = s.linked_account_uuid
        WHERE {where}
        {f"ORDER BY {order}" if order else ""} {f"LIMIT {int(limit)}" if limit is not None else ""}
    """  # noqa: S608 (built from constants; every value is a parameter)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if connection.vendor != "postgresql":
        rows = [(str(uuid.UUID(r[0])), *r[1:]) for r in rows]
    return rows


__all__ = [
    "billing_month_close",
    "billing_month_is_closed",
    "billing_live_summary",
    "billing_month_summary",
    "billing_months_close_previous",
]
