"""Small readers shared by the integrations: a trimmed text or null, a provider's calendar day
(YYYY-MM-DD) as midnight UTC, and numbered pages read until a short one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from .base import ErrorClass, ProviderError, RecordError


def text_or_none(value: Any) -> str | None:
    """The value as trimmed text; None and blank text are null."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_day(value: Any) -> datetime | None:
    """A YYYY-MM-DD date (anything after the tenth character is ignored) as midnight UTC; empty
    is unknown, anything else that is not a date is a bad record."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        raise RecordError(f"bad date {text[:40]!r}")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def pages_until_short(
    fetch_page: Callable[[int], list], *, size: int, max_pages: int, loop_message: str
) -> Iterator[list]:
    """Numbered pages (fetch_page(0), fetch_page(1), ...) until one holds fewer than `size`
    rows, which is yielded too; a provider still sending full pages after `max_pages` is in a
    paging loop: a bad response with `loop_message`."""
    for number in range(max_pages):
        rows = fetch_page(number)
        yield rows
        if len(rows) < size:
            return
    raise ProviderError(ErrorClass.BAD_RESPONSE, loop_message)
