"""The billing reads that come in pages, by account id: the usage API's body, the billing
page's table and its CSV (streamed page by page), for a closed month (from its snapshot,
accounts.billing_months) and for the current one (from the status history, accounts.billing).

The current month is not stored (its days keep ending), and computing all 100k accounts of an
organization to show 200 of them is most of the cost. A page is instead the next accounts by
id after a cursor (live ones, and those deleted since the month began: an index range each),
and the month's days are computed for that id range only: the history rows of those accounts
since the month began (index lash_account_at). The totals come from the counts per status and
the month's changes (accounts.billing.billing_summary), without a row per account. Account ids
are UUIDv7, so id order is the order accounts were linked.
"""

import base64
import binascii
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson
from django.db import connection
from psycopg.adapt import Loader

from . import billing
from .billing_months import (
    CLOSE_GRACE,
    _render,
    _snapshot_rows,
    _stored,
    _summary_from,
    _uid_sql,
    _uuid_text,
    _where,
    billing_live_summary,
)
from .models import BillingMonth, Organization

# Rows per page of the billing page, and per query when streaming the CSV.
PAGE_ROWS = 200
CSV_CHUNK = 5000


def _page_ids(
    *, organization: Organization, month: date, account_type: str | None, after: uuid.UUID | None, size: int
) -> list[uuid.UUID]:
    """The ids of the first `size` accounts after `after` that the month can list: live
    accounts and those deleted since the month began (a DELETED history row since then)."""
    first_day, _ = billing.month_bounds(month)
    params = {
        "org": billing._org_param(organization),
        "start": connection.ops.adapt_datetimefield_value(billing._utc_midnight(first_day)),
        "after": billing._uuid_param(after),
    }
    types = [account_type] if account_type else ["PRODUCTION", "TEST"]
    params |= {f"type_{i}": t for i, t in enumerate(types)}
    after_id = "AND id > %(after)s" if after is not None else ""
    after_uuid = "AND linked_account_uuid > %(after)s" if after is not None else ""
    # One ordered range of index la_org_env_id per environment, and the month's deletions.
    parts = [
        f"""SELECT * FROM (
            SELECT id AS uid FROM accounts_linkedaccount
            WHERE organization_id = %(org)s AND account_type = %(type_{i})s {after_id} ORDER BY id LIMIT {int(size)}
        ) live_{i}"""  # noqa: S608 (built from constants; every value is a parameter)
        for i in range(len(types))
    ]
    parts.append(f"""SELECT * FROM (
            SELECT linked_account_uuid AS uid FROM accounts_linkedaccountstatuschange
            WHERE organization_id = %(org)s AND to_status = 'DELETED' AND at >= %(start)s
            AND account_type IN ({", ".join(f"%(type_{i})s" for i in range(len(types)))}) {after_uuid}
            ORDER BY linked_account_uuid LIMIT {int(size)}
        ) gone""")  # noqa: S608 (built from constants; every value is a parameter)
    sql = f"SELECT uid FROM ({' UNION '.join(parts)}) page ORDER BY uid LIMIT {int(size)}"  # noqa: S608 (constants)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [uid if isinstance(uid, uuid.UUID) else uuid.UUID(uid) for (uid,) in cursor.fetchall()]


def _live_page(
    *, organization: Organization, month: date, account_type: str | None, after: uuid.UUID | None, size: int
) -> tuple[list[dict[str, Any]], uuid.UUID | None]:
    """The current month's accounts after `after`, in id order, and the cursor of the next
    page (None on the last). Accounts with no counted day are left out, so a page may be
    shorter than `size` and still have a next one."""
    if not billing._billing_period(month=month)[2]:
        return [], None  # no day has ended yet: no account has a counted day
    ids = _page_ids(
        organization=organization, month=month, account_type=account_type, after=after, size=size + 1
    )
    if not ids:
        return [], None
    upto = ids[min(size, len(ids)) - 1]
    rows = billing._account_rows(
        organization=organization, month=month, account_type=account_type, after=after, upto=upto
    )
    accounts = billing._accounts_from_rows(organization=organization, rows=rows)
    return accounts, (upto if len(ids) > size else None)


def billing_accounts_page(
    *, organization: Organization, month: date, size: int = PAGE_ROWS, after: uuid.UUID | None = None
) -> tuple[list[dict[str, Any]], uuid.UUID | None]:
    """Accounts of the month after `after` (every environment), in account-id order, and the
    next page's cursor (None on the last): the billing page's table and the CSV's chunks."""
    if _stored(organization=organization, month=month) is None:
        return _live_page(organization=organization, month=month, account_type=None, after=after, size=size)
    rows = _snapshot_rows(
        organization=organization, month=month, order="s.linked_account_uuid", limit=size + 1, after=after
    )
    accounts = billing._accounts_from_rows(organization=organization, rows=rows[:size])
    return accounts, (uuid.UUID(rows[size - 1][0]) if len(rows) > size else None)


def billing_accounts_iter(*, organization: Organization, month: date) -> Iterator[dict[str, Any]]:
    """Every account of the month (the CSV), a page of CSV_CHUNK at a time: memory stays flat."""
    after = None
    while True:
        accounts, after = billing_accounts_page(
            organization=organization, month=month, size=CSV_CHUNK, after=after
        )
        yield from accounts
        if after is None:
            return


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
    next_cursor = None
    if stored is None and page_size is None:
        usage = billing.billing_usage(organization=organization, month=month, account_type=account_type)
        entries = [_render(a) for a in usage.pop("accounts")]
    elif stored is None:
        # The current month, paged: the totals from the counts per status and the month's
        # changes, the page's accounts from their own history rows (an id range).
        usage = billing_live_summary(organization=organization, month=month, account_type=account_type)
        accounts, after = _live_page(
            organization=organization, month=month, account_type=account_type, after=cursor, size=page_size
        )
        entries = [_render(a) for a in accounts]
        next_cursor = after and encode_cursor(str(after))
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
    # Per row of the page, one probe of index lash_account_at: not the set of every account
    # changed since (at 1M accounts tens of thousands, hashed on each page).
    changed = """EXISTS (
        SELECT 1 FROM accounts_linkedaccountstatuschange c
        WHERE c.linked_account_uuid = s.linked_account_uuid AND c.at >= %(since)s
    )"""
    with connection.cursor() as cursor_:
        cursor_.execute(
            f"""SELECT s.entry, s.id, {changed}, {_uid_sql()}
            FROM (SELECT * FROM accounts_billingmonthaccount s WHERE {where}
                  ORDER BY s.linked_account_uuid LIMIT {int(page_size) + 1}) s
            ORDER BY s.linked_account_uuid""",  # noqa: S608 (constants)
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


__all__ = [
    "billing_accounts_iter",
    "billing_accounts_page",
    "billing_usage_json",
    "decode_cursor",
    "encode_cursor",
]
