"""Keyset (cursor) paging, the one implementation behind the REST API's lists and the dashboard's
tables. A page is ordered by a unique key of columns, e.g. ("created_at", "id") or (sort column,
"id"), and the cursor holds the key of the row it starts after, so each page is one index range
scan, as fast 500 pages deep as on the first page. Hand-written: DRF's CursorPagination pages on
one column with an offset for ties and reads the request itself; here the key is a row
comparison, and a cursor can go back (`previous`) as well as on.

A cursor is URL-safe base64 of {"d": "n"|"p", "v": [key values]}; the values are parsed back
by the key's model fields, so a tampered cursor is a BadCursor (a 400), never a 500."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan


class BadCursor(ValueError):
    pass


@dataclass
class Page:
    rows: list
    next_cursor: str | None
    previous_cursor: str | None


def encode_cursor(direction: str, values: tuple | list) -> str:
    """A cursor of the rows after (`"n"`) or before (`"p"`) the row whose key is `values`."""
    payload = {"d": direction, "v": [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, queryset: QuerySet, keys: tuple[str, ...]) -> tuple[str, tuple]:
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        direction, raw = data["d"], data["v"]
        if direction not in ("n", "p") or not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError
        values = []
        for key, value in zip(keys, raw, strict=True):
            if not isinstance(value, str):
                raise ValueError
            parsed = queryset.model._meta.get_field(key).to_python(value)
            if parsed is None or (isinstance(parsed, datetime) and parsed.tzinfo is None):
                raise ValueError
            values.append(parsed)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, ValidationError):
        raise BadCursor("Invalid cursor.")
    return direction, tuple(values)


def keyset_page(
    *,
    queryset: QuerySet,
    keys: tuple[str, ...] = ("id",),
    descending: bool = True,
    cursor: str | None = None,
    page_size: int = 100,
) -> Page:
    """One page of `queryset` in the order of `keys` (non-null columns whose values together are
    unique, backed by an index that starts with the equality filters). Ordering by a column with
    no index of its own (created_at) keeps PostgreSQL from walking the primary key when the
    filter's rows are all old."""
    direction, position = "n", None
    if cursor:
        direction, position = _decode_cursor(cursor, queryset, keys)
    forward = direction == "n"
    # Going back reverses the order, then the rows are flipped again.
    desc = descending if forward else not descending
    qs = queryset.order_by(*(f"-{k}" if desc else k for k in keys))
    if position is not None:
        if len(keys) == 1:
            qs = qs.filter(Q(**{f"{keys[0]}__{'lt' if desc else 'gt'}": position[0]}))
        else:
            lookup = TupleLessThan if desc else TupleGreaterThan
            qs = qs.filter(lookup(Tuple(*(F(k) for k in keys)), position))
    rows = list(qs[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if not forward:
        rows.reverse()

    def key_of(row: Any) -> tuple:
        return tuple(getattr(row, k) for k in keys)

    if forward:
        next_cursor = encode_cursor("n", key_of(rows[-1])) if has_more else None
        previous_cursor = encode_cursor("p", key_of(rows[0])) if position is not None and rows else None
    else:
        previous_cursor = encode_cursor("p", key_of(rows[0])) if has_more else None
        next_cursor = encode_cursor("n", key_of(rows[-1])) if rows else None
    return Page(rows=rows, next_cursor=next_cursor, previous_cursor=previous_cursor)
