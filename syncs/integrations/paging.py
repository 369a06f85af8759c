"""Cursor paging, as every cursor-paged provider list needs it: fetch a page, follow its cursor,
and stop a provider that hands back a cursor it already gave (a paging loop) with a bad
response instead of syncing forever."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .base import ErrorClass, ProviderError

Page = tuple[list[dict[str, Any]], str | None]


def cursor_pages(fetch: Callable[[str | None], Page], *, provider: str) -> Iterator[list[dict[str, Any]]]:
    """The records of each page: ``fetch(cursor)`` answers (records, next cursor or None), and is
    first called with None."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        records, cursor = fetch(cursor)
        yield records
        if cursor is None:
            return
        if cursor in seen:
            raise ProviderError(
                ErrorClass.BAD_RESPONSE, f"{provider} repeated a page cursor (a paging loop)."
            )
        seen.add(cursor)
