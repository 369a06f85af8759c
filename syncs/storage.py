"""Storing a sync run's records: one content-digest upsert for every common model.

Each record is normalised by its model (`syncs/common_models.py`), written as canonical JSON
and digested; a record whose digest is unchanged is not written at all. New and changed records
go out in one INSERT … ON CONFLICT per thousand rows; on PostgreSQL the rows travel as one JSON
document (the canonical JSON already made for the digests), so no value is adapted one by one
in Python: the hot path of every sync. Records that disappeared upstream get
`remote_was_deleted`, only when the run saw every record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.db import connection

from accounts.ids import uuid7
from accounts.models import LinkedAccount

from . import common_models, sensitive
from .common_models import CommonModel, strip_nul

BATCH = 1000
COUNT_KEYS = ("fetched", "created", "updated", "deleted")


def synced_records_store(
    *, account: LinkedAccount, records: dict[str, list[dict[str, Any]]], now: datetime, complete: bool
) -> dict[str, dict[str, int]]:
    """Upsert every model's records by remote_id (inside the run's transaction). Returns the
    counts per model id: fetched, created, updated, deleted."""
    return {
        model_id: _store_model(
            model=common_models.get(model_id), account=account, rows=rows, now=now, complete=complete
        )
        for model_id, rows in records.items()
    }


def _store_model(
    *, model: CommonModel, account: LinkedAccount, rows: list[dict[str, Any]], now: datetime, complete: bool
) -> dict[str, int]:
    incoming: dict[str, dict[str, Any]] = {}
    normalise = model.normalise
    for row in rows:
        data = normalise(row)
        incoming[data["remote_id"]] = data
    table = model.table
    existing = {
        remote_id: (pk, digest, was_deleted)
        for remote_id, pk, digest, was_deleted in table.objects.filter(linked_account=account).values_list(
            "remote_id", "id", "content_hash", "remote_was_deleted"
        )
    }
    created = updated = 0
    upserts: list[_Upsert] = []
    secret = model.sensitive
    for remote_id, data in incoming.items():
        clear = sensitive.mask(data, secret) if secret else None  # digested as keyed fingerprints
        body = _canonical_json(data)
        if "\\u0000" in body:  # a NUL inside a list column (jsonb refuses it)
            data = strip_nul(data)
            body = _canonical_json(data)
        digest = _digest(body)
        current = existing.get(remote_id)
        if current is not None and current[1] == digest and not current[2]:
            continue  # unchanged: no write at all
        if current is None:
            created += 1
        else:
            updated += 1
        if secret:  # encrypted only when written
            data, body = sensitive.seal(data, body, clear, secret)
        upserts.append(_Upsert(data, body, digest))
    gone = []
    if complete:
        # A partial run cannot tell a missing record from an unmappable one.
        gone = [
            pk for rid, (pk, _, was_deleted) in existing.items() if rid not in incoming and not was_deleted
        ]
    for start in range(0, len(upserts), BATCH):
        _upsert(model=model, account=account, rows=upserts[start : start + BATCH], now=now)
    for start in range(0, len(gone), BATCH):
        table.objects.filter(id__in=gone[start : start + BATCH]).update(
            remote_was_deleted=True, modified_at=now
        )
    return {"fetched": len(rows), "created": created, "updated": updated, "deleted": len(gone)}


@dataclass
class _Upsert:
    data: dict[str, Any]  # the normalised common-model fields
    body: str  # the same as canonical JSON (what the digest is of)
    digest: str


def _upsert(*, model: CommonModel, account: LinkedAccount, rows: list[_Upsert], now: datetime) -> None:
    """One INSERT … ON CONFLICT (linked account, remote_id): new rows get a new id, known ones
    keep theirs (and their created_at)."""
    update_fields = [*model.columns, "content_hash", "remote_was_deleted", "modified_at"]
    table = model.table
    if connection.vendor != "postgresql":
        table.objects.bulk_create(
            [
                table(
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
    fields = ["remote_id", *model.columns]
    record_type = ", ".join(f"{name} {model.pg_types.get(name, 'text')}" for name in fields)
    db_table = table._meta.db_table
    sets = ", ".join(f"{name} = EXCLUDED.{name}" for name in update_fields)
    sql = f"""
        INSERT INTO {db_table} (id, {", ".join(fields)}, content_hash, linked_account_id, remote_was_deleted,
                                created_at, modified_at)
        SELECT (e ->> 'id')::uuid, {", ".join(f"r.{name}" for name in fields)}, e ->> 'h', %s, false, %s, %s
        FROM jsonb_array_elements(%s::jsonb) AS e, jsonb_to_record(e -> 'r') AS r({record_type})
        ON CONFLICT (linked_account_id, remote_id) DO UPDATE SET {sets}
    """  # noqa: S608 - names from model meta; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [account.pk, now, now, document])


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


def _canonical_json(data: dict[str, Any]) -> str:
    """Sorted keys, no spaces, datetimes in RFC 3339: stable, so equal records have equal
    digests (PostgreSQL reads the same text back as timestamptz). orjson: the stdlib encoder
    was the largest CPU cost of storing a run; it remains the fallback for what orjson refuses
    (integers beyond 64 bits)."""
    try:
        return orjson.dumps(data, option=_ORJSON_OPTIONS, default=str).decode()
    except orjson.JSONEncodeError:
        return json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))


def _digest(body: str) -> str:
    return hashlib.sha1(body.encode()).hexdigest()  # noqa: S324 - a change detector, not security
