"""Billing and the status chart: account-days per status from the status history, for
GET /api/billing/v1/usage, the billing page and its CSV, and the Linked-accounts status chart;
and the one parser of a billing month ("YYYY-MM") used by the API and the dashboard."""

import gc
import re
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Organization

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def parse_month(raw: str | None) -> date:
    """A billing month from "YYYY-MM" (UTC), as its first day; the current month when empty.
    Raises ValueError, in words for whoever typed it, for a malformed, impossible or future
    month."""
    this_month = timezone.now().date().replace(day=1)
    if not raw:
        return this_month
    found = _MONTH.fullmatch(raw)
    if found is None:
        raise ValueError("Use YYYY-MM, for example 2026-05.")
    year, month = int(found[1]), int(found[2])
    if not 1 <= month <= 12 or year < 2000:
        raise ValueError("Not a valid month.")
    first = date(year, month, 1)
    if first > this_month:
        raise ValueError("The month is in the future.")
    return first


# Billing and the status chart, from the status history (rows are only ever appended, so a
# past month always reads the same).
#
# The state of an account at a midnight m is that of its last history row before m. Each row
# records both sides of its change (`from_status`, `to_status`), so the state at m can be read
# backwards from today: it is the `from_status` of the first row at or after m, or the account's
# current status when there is none. Summed over an account's rows after m, ([from in S] -
# [to in S]) telescopes to [state at m in S] - [current status in S]. Hence, for a set of
# statuses S and the midnights ending a month's days,
#
#     days in S = D * [current in S] + sum over rows at or after the month's start of
#                 ([from in S] - [to in S]) * H(at),
#
# where D is the number of days counted and H(t) the number of those midnights at or before t.
# Only the rows since the month began are read (plus the current statuses), never the whole
# history: the months one bills (the last ones) cost the least.

BILLABLE_STATUSES = ("COMPLETE", "IDLE")
LIVE_STATUSES = ("COMPLETE", "IDLE", "RELINK_NEEDED", "INCOMPLETE")
EXCLUSION_REASONS = ("relink_needed", "incomplete", "test", "deleted")


def _epoch_day_sql(column: str) -> str:
    """The UTC day number (days since 1970-01-01) of a timestamp column, in SQL."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"(({column} AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"
    return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"


def _epoch_day(value: date) -> int:
    return (value - date(1970, 1, 1)).days


def _utc_midnight(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


def _in(column: str, statuses: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(s) for s in statuses)})"


def _flag(condition: str) -> str:
    return f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _billing_sql(
    *,
    summary: bool = False,
    account_type: str | None = None,
    after: object = None,
    upto: object = None,
) -> str:
    """Per account: billable, relink-needed, incomplete, test and deleted days (see above).
    `summary`: the organization's sums only,
    from the current counts per status and the changes since the month began (no per-account
    rows at all). `after`/`upto`: only the accounts whose id is in that range (a page, in id
    order: accounts.billing_pages); each is given as a parameter of the same name."""
    from django.db import connection

    greatest, least = ("GREATEST", "LEAST") if connection.vendor == "postgresql" else ("MAX", "MIN")
    h = f"{least}(%(days)s, {greatest}(0, {_epoch_day_sql('at')} - %(lo)s + 1))"
    prod, test = "account_type = 'PRODUCTION'", "account_type = 'TEST'"
    # As text: parsing 100k UUIDs only to print them again is a good share of the time.
    uid_text = "uid::text" if connection.vendor == "postgresql" else "uid"

    def change(statuses: tuple[str, ...], kind: str) -> str:
        return f"CASE WHEN {kind} THEN ({_flag(_in('from_status', statuses))} - {_flag(_in('to_status', statuses))}) * h ELSE 0 END"

    def current(statuses: tuple[str, ...], kind: str) -> str:
        kind = kind.replace("account_type", "la.account_type")
        return f"CASE WHEN {kind} AND {_in('la.status', statuses)} THEN %(days)s ELSE 0 END"

    rows_since = f"""
        SELECT linked_account_uuid AS uid, account_type, from_status, to_status, {h} AS h
        FROM accounts_linkedaccountstatuschange
        WHERE organization_id = %(org)s AND account_type IN ('PRODUCTION', 'TEST') AND at >= %(start)s
        {"AND account_type = %(account_type)s" if account_type else ""}
        {"AND linked_account_uuid > %(after)s" if after is not None else ""}
        {"AND linked_account_uuid <= %(upto)s" if upto is not None else ""}
    """  # noqa: S608 (built from constants; every value is a parameter)
    live = "".join(
        f" AND {clause}"
        for clause, given in (
            ("la.account_type = %(account_type)s", account_type),
            ("la.id > %(after)s", after),
            ("la.id <= %(upto)s", upto),
        )
        if given is not None
    )
    # The same id range again where it changes nothing but bounds an index scan.
    id_range = "".join(
        f" AND la.id {op} %({bound})s"
        for op, bound, given in ((">", "after", after), ("<=", "upto", upto))
        if given is not None
    )
    if account_type is None and (after is not None or upto is not None):
        live += " AND la.account_type IN ('PRODUCTION', 'TEST')"  # an id range of index la_org_env_id each

    def sums(n: str = "") -> str:
        return f"""
            SUM({n}{change(BILLABLE_STATUSES, prod)}) AS billable,
            SUM({n}{change(("RELINK_NEEDED",), prod)}) AS relink,
            SUM({n}{change(("INCOMPLETE",), prod)}) AS incomplete,
            SUM({n}{change(LIVE_STATUSES, test)}) AS test,
            SUM({n}CASE WHEN to_status = 'DELETED' THEN %(days)s - h ELSE 0 END) AS deleted
        """

    if summary:
        # The month's changes counted by kind first (a few hundred groups), then weighed: the
        # CASEs run per group, not per row.
        return f"""
            SELECT {sums("n * ")} FROM (
                SELECT account_type, from_status, to_status, h, COUNT(*) AS n
                FROM ({rows_since}) rows_since GROUP BY account_type, from_status, to_status, h
            ) kinds
            UNION ALL
            SELECT SUM(n * ({current(BILLABLE_STATUSES, prod)})), SUM(n * ({current(("RELINK_NEEDED",), prod)})),
                   SUM(n * ({current(("INCOMPLETE",), prod)})), SUM(n * ({current(LIVE_STATUSES, test)})), 0
            FROM (
                SELECT account_type, status, COUNT(*) AS n FROM accounts_linkedaccount la
                WHERE la.organization_id = %(org)s {live} GROUP BY account_type, status
            ) la
        """  # noqa: S608 (built from constants; every value is a parameter)
    order = "ORDER BY uid" if after is not None or upto is not None else ""
    sql = f"""
        WITH changes AS (
            SELECT uid, MAX(account_type) AS account_type, {sums()}
            FROM ({rows_since}) rows_since
            GROUP BY uid
        ), accounts AS (
            -- Live accounts: their current status, plus what changed since the month began.
            SELECT la.id AS uid, la.account_type,
                   {current(BILLABLE_STATUSES, prod)} + COALESCE(c.billable, 0) AS billable,
                   {current(("RELINK_NEEDED",), prod)} + COALESCE(c.relink, 0) AS relink,
                   {current(("INCOMPLETE",), prod)} + COALESCE(c.incomplete, 0) AS incomplete,
                   {current(LIVE_STATUSES, test)} + COALESCE(c.test, 0) AS test,
                   COALESCE(c.deleted, 0) AS deleted,
                   la.end_user_origin_id, la.end_user_organization_name, la.integration, la.category, la.status
            FROM accounts_linkedaccount la LEFT JOIN changes c ON c.uid = la.id
            WHERE la.organization_id = %(org)s {live}
            UNION ALL
            -- Deleted accounts (no live row): deleted now, so only the changes count.
            SELECT c.uid, c.account_type, c.billable, c.relink, c.incomplete, c.test, c.deleted,
                   NULL, NULL, NULL, NULL, NULL
            FROM changes c
            WHERE NOT EXISTS (SELECT 1 FROM accounts_linkedaccount la WHERE la.id = c.uid {id_range})
        )
        SELECT {uid_text}, billable, relink, incomplete, test, deleted, account_type,
               end_user_origin_id, end_user_organization_name, integration, category, status
        FROM accounts
        WHERE billable + relink + incomplete + test + deleted > 0
        {order}
    """  # noqa: S608 (built from constants; every value is a parameter)
    return sql


def _org_param(organization: Organization):
    from django.db import connection

    return organization.pk if connection.vendor == "postgresql" else organization.pk.hex


def _billing_period(*, month: date) -> tuple[date, date, int]:
    """The month's first and last day and how many of its days have ended (are counted)."""
    first_day, last_day = month_bounds(month)
    counted_last = min(last_day, timezone.now().date() - timedelta(days=1))
    return first_day, last_day, max(0, (counted_last - first_day).days + 1)


@contextmanager
def _gc_paused():
    """Reading 100k account rows allocates a few hundred thousand objects without reference
    cycles; the cyclic collector would run over and over for nothing (each pass longer than
    the last, as the rows pile up): it was two thirds of billing_usage's time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _billing_query(
    *, organization: Organization, month: date, sql: str | None = None, extra: dict | None = None, **kind
) -> list[tuple]:
    """Runs _billing_sql(**kind) (or `sql` built around it, with `extra` parameters)."""
    from django.db import connection

    first_day, _, days_counted = _billing_period(month=month)
    if not days_counted:
        return []
    params = {
        "org": _org_param(organization),
        "start": connection.ops.adapt_datetimefield_value(_utc_midnight(first_day)),
        # The midnight ending the month's first day, as a day number.
        "lo": _epoch_day(first_day) + 1,
        "days": days_counted,
        "account_type": kind.get("account_type"),
        **{bound: _uuid_param(kind.get(bound)) for bound in ("after", "upto")},
    }
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One aggregate row per account: keep the hash tables of 100k accounts in memory. The
            # plan's cost passes the JIT threshold, but compiling it costs more than it saves.
            cursor.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
            if kind.get("upto") is not None:
                # A page's id range is a sliver of the id histogram: estimated at one row, so the
                # planner joins the page's accounts to their changes in a nested loop over the
                # CTE (1M comparisons for 1,000 accounts, 125 ms at 1M accounts). Hash them.
                cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(sql or _billing_sql(**kind), {**params, **(extra or {})})
        if cursor.description is None:
            return []
        with _gc_paused():
            return cursor.fetchall()


def _summary(*, month: date, sums: list[int]) -> dict[str, Any]:
    first_day, last_day, days_counted = _billing_period(month=month)
    days_in_month = (last_day - first_day).days + 1
    billable_total, *excluded = sums
    return {
        "month": first_day.strftime("%Y-%m"),
        "days_in_month": days_in_month,
        "days_counted": days_counted,
        "is_final": days_counted == days_in_month,
        "billable_account_days": billable_total,
        "average_billable_accounts": round(billable_total / days_in_month, 2),
        "excluded_account_days": dict(zip(EXCLUSION_REASONS, excluded, strict=True)),
    }


def billing_summary(
    *, organization: Organization, month: date, account_type: str | None = None
) -> dict[str, Any]:
    """The month's totals: billable account-days, their average over the days of the month,
    and the excluded account-days by reason. Days of the current month count once they have
    ended; a future month has none. A month that is over never changes. `account_type`: one
    environment's only."""
    sums = [0] * 5
    for row in _billing_query(
        organization=organization, month=month, summary=True, account_type=account_type
    ):
        sums = [total + int(value or 0) for total, value in zip(sums, row, strict=True)]
    return _summary(month=month, sums=sums)


def _uuid_param(value: uuid.UUID | None):
    from django.db import connection

    if value is None or connection.vendor == "postgresql":
        return value
    return value.hex


def _account_rows(*, organization: Organization, month: date, **kind) -> list[tuple]:
    """The rows of _billing_sql (`kind`: its options), account ids as text."""
    from django.db import connection

    rows = _billing_query(organization=organization, month=month, **kind)
    if connection.vendor != "postgresql":  # SQLite stores UUIDs as 32 hex digits
        rows = [(str(uuid.UUID(r[0])), *r[1:]) for r in rows]
    return rows


def _accounts_from_rows(*, organization: Organization, rows: list[tuple]) -> list[dict[str, Any]]:
    with _gc_paused():
        accounts = _account_dicts(rows)
    _attach_deleted_accounts(organization=organization, accounts=accounts)
    return accounts


def _account_dicts(rows: list[tuple]) -> list[dict[str, Any]]:
    return [
        {
            "linked_account_id": uid,
            "end_user_origin_id": origin_id,
            "end_user_organization_name": org_name,
            "integration": integration,
            "category": category,
            "account_type": account_type,
            "status": status,
            "billable_days": billable,
            "excluded_days": {
                "relink_needed": relink,
                "incomplete": incomplete,
                "test": test,
                "deleted": deleted,
            },
        }
        for uid, billable, relink, incomplete, test, deleted, account_type, origin_id, org_name, integration, category, status in rows
    ]


def billing_usage(
    *, organization: Organization, month: date, account_type: str | None = None
) -> dict[str, Any]:
    """GET /api/billing/v1/usage: the month's totals and every account's days (one query; the
    totals are the sums of the accounts' days, as billing_summary computes them apart).
    Billable: production and COMPLETE or IDLE at the end of the UTC day. `account_type`: only
    the accounts of that environment (an API key sees its own environment only: a test key
    gets its test accounts, all unbilled, and never a production row)."""
    rows = _account_rows(organization=organization, month=month, account_type=account_type)
    with _gc_paused():
        sums = [int(sum(row[i] for row in rows)) for i in range(1, 6)]
    return {
        **_summary(month=month, sums=sums),
        "accounts": _accounts_from_rows(organization=organization, rows=rows),
    }


def _attach_deleted_accounts(*, organization: Organization, accounts: list[dict[str, Any]]) -> None:
    """Who a deleted account was, from its DELETED history row's snapshot (one query)."""
    from .models import LinkedAccountStatusChange

    gone = {a["linked_account_id"]: a for a in accounts if a["status"] is None}
    if not gone:
        return
    snapshots = {
        str(change.linked_account_uuid): change.account_snapshot
        for change in LinkedAccountStatusChange.objects.filter(
            organization=organization, linked_account_uuid__in=list(gone), to_status="DELETED"
        ).only("linked_account_uuid", "account_snapshot")
    }
    for account_id, entry in gone.items():
        snap = snapshots.get(account_id, {})
        entry.update(
            end_user_origin_id=snap.get("end_user_origin_id", ""),
            end_user_organization_name=snap.get("end_user_organization_name", ""),
            integration=snap.get("integration_slug", ""),
            category=snap.get("category", ""),
            status="DELETED",
        )
