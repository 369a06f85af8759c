"""Shared machinery for the operator dashboard pages of every app (as `api.py` is for the REST
API): the current organization, the login/membership gate and keyset paging for HTML tables.

An operator only ever sees organizations they are a member of; everything a page shows is
looked up through `request.organization`, so another organization's objects are a 404."""

import base64
import binascii
import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import render
from django.utils.http import urlencode

from .models import Organization
from .selectors import organizations_for_user

SESSION_KEY = "relink_organization_id"


def _parse_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def current_organization(request: HttpRequest) -> Organization | None:
    """The organization this request works on: `?organization=<id>` (a shareable link; 404 for a
    non-member), else the one chosen in the switcher, else the operator's first."""
    asked = request.GET.get("organization")
    if asked:
        org_id = _parse_uuid(asked)
        org = organizations_for_user(user=request.user).filter(pk=org_id).first() if org_id else None
        if org is None:
            raise Http404("No such organization.")
        request.session[SESSION_KEY] = str(org.pk)
        return org
    stored = _parse_uuid(request.session.get(SESSION_KEY))
    if stored:
        org = organizations_for_user(user=request.user).filter(pk=stored).first()
        if org is not None:
            return org
    org = organizations_for_user(user=request.user).first()
    if org is not None:
        request.session[SESSION_KEY] = str(org.pk)
    return org


def operator_required(view):
    """Login required, and a current organization the user belongs to (`request.organization`)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        organization = current_organization(request)
        if organization is None:
            return render(request, "accounts/no_organization.html", status=403)
        request.organization = organization
        return view(request, *args, **kwargs)

    return wrapper


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the organizations for the switcher (one query, only when rendered)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_organizations": organizations_for_user(user=user),
        "current_organization": getattr(request, "organization", None),
    }


# Keyset paging for dashboard tables, on (sort column, id) so that any sort stays an index range
# scan at any depth. The API's `paginate` covers the one-column (id) case.


class BadCursor(ValueError):
    pass


def _encode(values: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[str]:
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (ValueError, binascii.Error, json.JSONDecodeError):
        raise BadCursor("Invalid cursor.")
    if not isinstance(data, list) or len(data) != 3 or not all(isinstance(v, str) for v in data):
        raise BadCursor("Invalid cursor.")
    return data


@dataclass
class Page:
    rows: list
    next_cursor: str | None
    previous_cursor: str | None


def keyset_page(
    *, queryset: QuerySet, sort: str, descending: bool, cursor: str | None, page_size: int = 50
) -> Page:
    """One page of `queryset` ordered by (sort, id). `sort` must be a non-null column."""
    direction, position = "n", None
    if cursor:
        direction, raw_sort, raw_id = _decode(cursor)
        if direction not in ("n", "p"):
            raise BadCursor("Invalid cursor.")
        key_id = _parse_uuid(raw_id)
        if key_id is None:
            raise BadCursor("Invalid cursor.")
        position = (raw_sort, key_id)
    forward = direction == "n"
    # Going back reverses the order, then the rows are flipped again.
    desc = descending if forward else not descending
    order = [f"-{sort}", "-id"] if desc else [sort, "id"]
    qs = queryset.order_by(*order)
    if position is not None:
        op = "lt" if desc else "gt"
        value, key_id = position
        if sort == "id":
            qs = qs.filter(**{f"id__{op}": key_id})
        else:
            qs = qs.filter(Q(**{f"{sort}__{op}": value}) | Q(**{sort: value, f"id__{op}": key_id}))
    rows = list(qs[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if not forward:
        rows.reverse()

    def key(row) -> list[str]:
        return [str(getattr(row, sort)), str(row.id)]

    if forward:
        next_cursor = _encode(["n", *key(rows[-1])]) if has_more and rows else None
        previous_cursor = _encode(["p", *key(rows[0])]) if position is not None and rows else None
    else:
        previous_cursor = _encode(["p", *key(rows[0])]) if has_more and rows else None
        next_cursor = _encode(["n", *key(rows[-1])]) if rows else None
    return Page(rows=rows, next_cursor=next_cursor, previous_cursor=previous_cursor)


def query_with(request: HttpRequest, **changes: Any) -> str:
    """The current query string with some parameters replaced (None drops one)."""
    params = {k: v for k, v in request.GET.items()}
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return "?" + urlencode(params) if params else "?"
