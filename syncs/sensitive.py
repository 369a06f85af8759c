"""Sensitive common-model fields at rest (an Employee's `ssn` and `date_of_birth`): Fernet
ciphertext in a `<field>_encrypted` column (the house convention: `manage.py rotate_fernet_keys`
re-encrypts every such column), decrypted only when the API is asked for them
(`include_sensitive_fields=true`, `syncs/serializers.py`).

A sync compares each record's content digest with the stored one instead of loading the row
(`syncs/storage.py`). Fernet is randomized (a new IV each time), so the digest cannot be of the
ciphertext, and it must not be of the clear value either (a digest of a record whose other fields
are in the row is a brute-forceable SSN). It is of a keyed HMAC fingerprint: `mask` puts the
fingerprint where the clear value was before the record is digested, and `seal` encrypts (only
for a record that is written) and names the columns. Null stays null, so a record without
sensitive values digests as it always has.

Hand-written: a few functions around `accounts.crypto` (Fernet, the keyed token hash); the
encrypted-field libraries encrypt inside the ORM, which the sync's bulk upsert bypasses.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from accounts.crypto import decrypt_str, encrypt_str, token_hash

MAX_TEXT = 255  # longest clear value kept (an SSN or a date is far shorter)


def column(name: str) -> str:
    """The column holding a sensitive field's ciphertext."""
    return f"{name}_encrypted"


def _text(value: Any) -> str | None:
    """The clear value as it is fingerprinted and encrypted: dates as ISO 8601 date-times (UTC
    when the provider gave no offset), text without NULs, cut to MAX_TEXT."""
    if isinstance(value, str) and value.strip() == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value).replace("\x00", "")[:MAX_TEXT]


def mask(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """Replace each sensitive value of a normalised record by its keyed fingerprint (in place),
    before the record is digested; returns the clear values, for `seal`."""
    clear = {}
    for name in names:
        value = data.get(name)
        text = None if value is None else _text(value)
        if text is None:
            data[name] = None
            continue
        clear[name] = text
        data[name] = token_hash(f"sensitive:{name}:{text}")
    return clear


def seal(data: dict[str, Any], body: str, clear: dict[str, str], names: tuple[str, ...]) -> tuple[dict, str]:
    """A masked record about to be written: its sensitive fields as their columns, encrypted.
    The canonical JSON (`body`, sorted for the digest) gains the columns at its end: the upsert
    reads it by key, and its fingerprints are no column."""
    extra = []
    for name in names:
        data.pop(name, None)
        token = encrypt_str(clear[name]) if name in clear else None
        data[column(name)] = token
        # Fernet tokens are URL-safe base64: nothing to escape.
        extra.append(f'"{column(name)}":' + (f'"{token}"' if token else "null"))
    return data, body[:-1] + "," + ",".join(extra) + "}"


def reveal(stored: str | None) -> str | None:
    """A sensitive column's clear text (None stays None)."""
    return decrypt_str(stored) if stored else None


def reveal_datetime(stored: str | None) -> datetime | None:
    text = reveal(stored)
    return parse_datetime(text) if text else None


def encrypt_value(value: Any) -> str | None:
    """A clear value (a stored text or date-time) as its column holds it: for the migration that
    encrypted the rows synced before, and for tests that write a row directly."""
    text = None if value is None else _text(value)
    return encrypt_str(text) if text is not None else None
