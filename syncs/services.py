"""Storage of a sync run's records: the common-model rows upserted by remote_id, unchanged rows
left alone, vanished ones flagged remote_was_deleted. Called by the sync run (syncs/runs.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from accounts.ids import uuid7
from accounts.models import LinkedAccount

from .models import Employee


def _store_records(
    *, account: LinkedAccount, records: dict[str, list[dict[str, Any]]], now: datetime, complete: bool
) -> dict[str, int]:
    """Upsert by remote_id; records that disappeared get remote_was_deleted (only when the run
    saw every record: a partial run cannot tell missing from unmappable)."""
    rows = records.get("hris.Employee", [])
    incoming: dict[str, dict[str, Any]] = {}
    for row in rows:
        data = _normalise_employee(row)
        incoming[data["remote_id"]] = data
    existing = {
        remote_id: (pk, digest, was_deleted)
        for remote_id, pk, digest, was_deleted in Employee.objects.filter(linked_account=account).values_list(
            "remote_id", "id", "content_hash", "remote_was_deleted"
        )
    }
    created = updated = 0
    upserts: list[_Upsert] = []
    for remote_id, data in incoming.items():
        body = _canonical_json(data)
        digest = _digest(body)
        current = existing.get(remote_id)
        if current is not None and current[1] == digest and not current[2]:
            continue  # unchanged: no write at all
        if current is None:
            created += 1
        else:
            updated += 1
        upserts.append(_Upsert(data, body, digest))
    gone = []
    if complete:
        gone = [
            pk for rid, (pk, _, was_deleted) in existing.items() if rid not in incoming and not was_deleted
        ]
    for start in range(0, len(upserts), 1000):
        _upsert_employees(account=account, rows=upserts[start : start + 1000], now=now)
    for start in range(0, len(gone), 1000):
        Employee.objects.filter(id__in=gone[start : start + 1000]).update(
            remote_was_deleted=True, modified_at=now
        )
    return {
        "records_fetched": len(rows),
        "records_created": created,
        "records_updated": updated,
        "records_deleted": len(gone),
    }


@dataclass
class _Upsert:
    data: dict[str, Any]  # the normalised common-model fields
    body: str  # the same as canonical JSON (what the digest is of)
    digest: str


def _upsert_employees(*, account: LinkedAccount, rows: list[_Upsert], now: datetime) -> None:
    """One INSERT … ON CONFLICT (linked account, remote_id): new rows get a new id, known ones
    keep theirs (and their created_at). On PostgreSQL the rows travel as one JSON document, the
    canonical JSON already made for the digests: no per-value adaptation in Python (the hot
    path of every sync)."""
    update_fields = [*EMPLOYEE_FIELDS, "content_hash", "remote_was_deleted", "modified_at"]
    if connection.vendor != "postgresql":
        Employee.objects.bulk_create(
            [
                Employee(
                    linked_account=account,
                    modified_at=now,
                    content_hash=row.digest,
                    remote_was_deleted=False,
                    **row.data,
                )
                for row in rows
            ],
            update_conflicts=True,
            unique_fields=["linked_account", "remote_id"],
            update_fields=update_fields,
        )
        return
    # uuid7 and hex digests need no JSON escaping.
    document = "[" + ",".join(f'{{"id":"{uuid7()}","h":"{row.digest}","r":{row.body}}}' for row in rows) + "]"
    fields = ["remote_id", *EMPLOYEE_FIELDS]
    record_type = ", ".join(f"{name} {_PG_TYPES.get(name, 'text')}" for name in fields)
    table = Employee._meta.db_table
    sets = ", ".join(f"{name} = EXCLUDED.{name}" for name in update_fields)
    sql = f"""
        INSERT INTO {table} (id, {", ".join(fields)}, content_hash, linked_account_id, remote_was_deleted,
                             created_at, modified_at)
        SELECT (e ->> 'id')::uuid, {", ".join(f"r.{name}" for name in fields)}, e ->> 'h', %s, false, %s, %s
        FROM jsonb_array_elements(%s::jsonb) AS e, jsonb_to_record(e -> 'r') AS r({record_type})
        ON CONFLICT (linked_account_id, remote_id) DO UPDATE SET {sets}
    """  # noqa: S608 - names from model meta; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [account.pk, now, now, document])


_PG_TYPES = {
    "start_date": "timestamptz",
    "termination_date": "timestamptz",
    "remote_created_at": "timestamptz",
}


def _canonical_json(data: dict[str, Any]) -> str:
    """Sorted keys, no spaces, datetimes as str(): stable, so equal records have equal digests
    (PostgreSQL reads the same text back as timestamptz)."""
    return json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))


def _digest(body: str) -> str:
    return hashlib.sha1(body.encode()).hexdigest()  # noqa: S324 - a change detector, not security


EMPLOYEE_FIELDS = (
    "employee_number",
    "first_name",
    "last_name",
    "display_full_name",
    "work_email",
    "personal_email",
    "mobile_phone_number",
    "employment_status",
    "start_date",
    "termination_date",
    "remote_created_at",
)
_NOT_NULL = {"first_name", "last_name", "display_full_name"}
_MAX_LENGTH = {f.name: f.max_length for f in Employee._meta.fields if getattr(f, "max_length", None)}
# (field, "" instead of None, longest string kept): looked up once, used for every record.
_FIELD_RULES = tuple((name, name in _NOT_NULL, _MAX_LENGTH.get(name)) for name in EMPLOYEE_FIELDS)


def _normalise_employee(row: dict[str, Any]) -> dict[str, Any]:
    data = {}
    for name, not_null, max_length in _FIELD_RULES:
        value = row.get(name)
        if value is None:
            if not_null:
                value = ""
        elif isinstance(value, str):
            if "\x00" in value:
                value = value.replace("\x00", "")  # PostgreSQL text cannot hold NUL
            if max_length and len(value) > max_length:
                value = value[:max_length]
        data[name] = value
    remote_id = str(row["remote_id"])
    data["remote_id"] = (remote_id.replace("\x00", "") if "\x00" in remote_id else remote_id)[:255]
    return data
