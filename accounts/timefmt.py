"""The one wire format of a date-time in every API answer and webhook payload: ISO 8601 in UTC
with a "Z" (as DRF's DateTimeField writes it under TIME_ZONE = "UTC", and as Merge's examples
show), so a client never sees "+00:00" from one endpoint and "Z" from another."""

from datetime import UTC, datetime


def api_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z"
