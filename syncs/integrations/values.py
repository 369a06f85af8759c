"""Small readers of provider values shared by the integrations: a trimmed text or null, and a
provider's calendar day (YYYY-MM-DD) as midnight UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from .base import RecordError


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
