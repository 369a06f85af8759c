"""Closed months' billing, computed once and kept (BillingMonth, BillingMonthAccount), and the
reads the usage API, the billing page and its CSV go through: a closed month's from its
snapshot, the current month's from the status history (accounts.billing).

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

import base64
import binascii
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import orjson
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.adapt import Loader

from . import billing
from .models import AccountType, BillingMonth, BillingMonthAccount, Organization

# A month is snapshotted this long after it ends: a status change stamped just before midnight
# may commit a moment after it.
CLOSE_GRACE = timedelta(hours=1)
# Rows per query when streaming a closed month's CSV.
CSV_CHUNK = 5000
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
    rows = billing._account_rows(organization=organization, month=month)
    # In account-id order: the table's rows then lie in the order of its unique index, so a
    # month's rows are read in one sweep whichever way PostgreSQL chooses.
    rows.sort(key=lambda r: uuid.UUID(r[0]))
    accounts = billing._accounts_from_rows(organization=organization, rows=rows)
    totals: dict[str, list[int]] = {t: [0] * 5 for t in AccountType.values}
    for a in accounts:
        sums = totals[a["account_type"]]
        for i, value in enumerate(_numbers(a)):
            sums[i] += value
    with transaction.atomic():
        try:
            with transaction.atomic():
                BillingMonth.objects.bulk_create(
                    BillingMonth(
                        organization=organization,
                        month=month,
                        account_type=account_type,
                        **dict(zip(NUMBERS, sums, strict=True)),
                    )
                    for account_type, sums in totals.items()
                )
        except IntegrityError:
            return False  # another process stored it (it has committed: the insert waited for it)
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
    if connection.vendor == "postgresql":
        # Statistics for the new rows now (not at autovacuum's next pass): without them the
        # planner takes a 100k-row month for one row and picks a plan for one row.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE accounts_billingmonthaccount")
    return True


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


def billing_month_summary(*, organization: Organization, month: date) -> dict[str, Any]:
    """The billing page's totals: stored for a closed month, computed otherwise."""
    stored = _stored(organization=organization, month=month)
    if stored is None:
        return billing.billing_summary(organization=organization, month=month)
    return _summary_from(stored, month=month, account_type=None)


def billing_month_top_accounts(*, organization: Organization, month: date, top: int) -> list[dict[str, Any]]:
    """The `top` most billable accounts of the month, most billable first."""
    if _stored(organization=organization, month=month) is None:
        return billing.billing_accounts(organization=organization, month=month, top=top)
    rows = _snapshot_rows(
        organization=organization, month=month, order="s.billable_days DESC, s.linked_account_uuid", limit=top
    )
    return billing._accounts_from_rows(organization=organization, rows=rows)


def billing_month_accounts_iter(*, organization: Organization, month: date) -> Iterator[dict[str, Any]]:
    """Every account of the month (the CSV): a closed month in chunks, by account id."""
    if _stored(organization=organization, month=month) is None:
        yield from billing.billing_usage(organization=organization, month=month)["accounts"]
        return
    after = None
    while True:
        rows = _snapshot_rows(
            organization=organization,
            month=month,
            order="s.linked_account_uuid",
            limit=CSV_CHUNK,
            after=after,
        )
        yield from billing._accounts_from_rows(organization=organization, rows=rows)
        if len(rows) < CSV_CHUNK:
            return
        after = uuid.UUID(rows[-1][0])


def encode_cursor(account_id: str) -> str:
    return base64.urlsafe_b64encode(uuid.UUID(account_id).bytes).decode().rstrip("=")


def decode_cursor(raw: str) -> uuid.UUID:
    """The account id a page cursor stands for; ValueError when it is not one of ours."""
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("Not a valid cursor.") from exc


def billing_usage_json(
    *,
    organization: Organization,
    month: date,
    account_type: str | None = None,
    page_size: int | None = None,
    cursor: uuid.UUID | None = None,
) -> list[bytes]:
    """GET /api/billing/v1/usage's body, as JSON in chunks (a closed month's stored entries are
    one chunk of 30 MB for 100k accounts: copied into one bytes they would cost more than
    reading them). Without `page_size`, every account (in
    no particular order) and `next` null; with it, at most that many accounts after `cursor`,
    by account id, and `next` the cursor of the following page (null on the last)."""
    stored = _stored(organization=organization, month=month)
    if stored is None:
        usage = billing.billing_usage(organization=organization, month=month, account_type=account_type)
        accounts = usage.pop("accounts")
        if page_size is not None:
            accounts.sort(key=lambda a: uuid.UUID(a["linked_account_id"]))
            if cursor is not None:
                accounts = [a for a in accounts if uuid.UUID(a["linked_account_id"]) > cursor]
            accounts = accounts[: page_size + 1]
        entries = [_render(a) for a in accounts]
        ids = [a["linked_account_id"] for a in accounts]
    else:
        usage = _summary_from(stored, month=month, account_type=account_type)
        entries, ids = _stored_entries(
            organization=organization,
            stored=stored,
            month=month,
            account_type=account_type,
            page_size=page_size,
            cursor=cursor,
        )
    next_cursor = None
    if page_size is not None and len(entries) > page_size:
        entries, next_cursor = entries[:page_size], encode_cursor(ids[page_size - 1])
    head = orjson.dumps({**usage, "next": next_cursor})
    body = [head[:-1] + b',"accounts":[']
    for i, chunk in enumerate(c for c in entries if c):
        body.extend((b",", chunk) if i else (chunk,))
    body.append(b"]}")
    return body


def _stored_entries(
    *,
    organization: Organization,
    stored: dict[str, BillingMonth],
    month: date,
    account_type: str | None,
    page_size: int | None,
    cursor: uuid.UUID | None,
) -> tuple[list[bytes], list[str]]:
    """The month's stored API entries (one more than `page_size`, to tell whether a page
    follows), and their account ids when paging. An account whose status changed since the
    month was stored (or that was deleted since) has a status-history row from then on: its
    entry is rendered again (the other fields of an account's entry are fixed at its creation)."""
    changed_sql = """
        SELECT linked_account_uuid FROM accounts_linkedaccountstatuschange
        WHERE organization_id = %(org)s AND account_type IN ('PRODUCTION', 'TEST') AND at >= %(since)s
    """  # noqa: S608 (a constant)
    where, params = _where(organization=organization, month=month, account_type=account_type, after=cursor)
    since = min(m.created_at for m in stored.values()) - CLOSE_GRACE
    params["since"] = connection.ops.adapt_datetimefield_value(since)
    if page_size is None:
        joined, again = _stored_joined(where=where, changed_sql=changed_sql, params=params)
        return [joined, *_rendered_again(organization=organization, month=month, pks=again).values()], []
    with connection.cursor() as cursor_:
        cursor_.execute(
            f"""SELECT s.entry, s.id, s.linked_account_uuid IN ({changed_sql}), {_uid_sql()}
            FROM accounts_billingmonthaccount s WHERE {where}
            ORDER BY s.linked_account_uuid LIMIT {int(page_size) + 1}""",  # noqa: S608 (constants)
            params,
        )
        rows = cursor_.fetchall()
    again = _rendered_again(
        organization=organization, month=month, pks=[pk for _, pk, changed, _ in rows if changed]
    )
    entries = [again.get(pk) or entry.encode() for entry, pk, _, _ in rows]
    return entries, [_uuid_text(uid) for *_, uid in rows]


def _stored_joined(*, where: str, changed_sql: str, params: dict[str, Any]) -> tuple[bytes, list[int]]:
    """The entries of the accounts unchanged since the month was stored, joined with commas by
    the database (one value), and the row ids of the others."""
    postgresql = connection.vendor == "postgresql"
    agg = "string_agg(s.entry, ',')" if postgresql else "group_concat(s.entry, ',')"
    with connection.cursor() as cursor:
        if postgresql:
            cursor.cursor.adapters.register_loader("text", _RawText)
        cursor.execute(
            f"SELECT {agg} FROM accounts_billingmonthaccount s"  # noqa: S608 (constants)
            f" WHERE {where} AND s.linked_account_uuid NOT IN ({changed_sql})",
            params,
        )
        (joined,) = cursor.fetchone()
        cursor.execute(
            f"SELECT s.id FROM accounts_billingmonthaccount s"  # noqa: S608 (constants)
            f" WHERE {where} AND s.linked_account_uuid IN ({changed_sql})",
            params,
        )
        again = [pk for (pk,) in cursor.fetchall()]
    return (joined.encode() if isinstance(joined, str) else joined or b""), again


class _RawText(Loader):
    """Text as the bytes PostgreSQL sent (UTF-8): the stored entries go to the response as they
    are, with no decoding and encoding of 30 MB."""

    def load(self, data) -> bytes:
        return bytes(data)


def _rendered_again(*, organization: Organization, month: date, pks: list[int]) -> dict[int, str]:
    """Stored rows' entries rendered from the accounts as they are now, by row id."""
    if not pks:
        return {}
    rows = _snapshot_rows(organization=organization, month=month, ids=pks, with_pk=True)
    accounts = billing._accounts_from_rows(organization=organization, rows=[r[:-1] for r in rows])
    return {r[-1]: _render(a) for r, a in zip(rows, accounts, strict=True)}


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
    "billing_month_accounts_iter",
    "billing_month_close",
    "billing_month_is_closed",
    "billing_month_summary",
    "billing_month_top_accounts",
    "billing_months_close_previous",
    "billing_usage_json",
    "decode_cursor",
    "encode_cursor",
]
