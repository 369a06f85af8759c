"""A sync run's own rows in as few round trips as possible: claiming the run, locking its account
to finish it, and recording a run that succeeded.

`run_claim` reads the account, inserts its RUNNING run (at most one per account, the partial
unique index) and reads the page digests of the latest run that stored data, in one statement
on PostgreSQL. `run_succeeded` writes the run's request logs, its result, the account's next
sync time and the release of its dispatch lease in one statement, only while the run still
holds its lease. Both keep the ORM path for SQLite (the embedded default), where one statement
cannot insert, update and delete at once. Hand-written SQL: the ORM issues one statement per
row kind, and these few statements were a third of a repeat sync's CPU.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.ids import uuid7
from accounts.models import LinkedAccount, LinkedAccountStatus, Organization

from .integrations.base import LoggedRequest
from .models import RequestLog, SyncDispatch, SyncRun, SyncRunStatus
from .request_logs import request_logs_write
from .status_rule import status_rule_hints

_STORED = (SyncRunStatus.DONE, SyncRunStatus.PARTIALLY_SYNCED)


@dataclass
class Claim:
    """What `run_claim` found: the account (None: gone), the new run (None: not claimed) and
    the page digests of the account's latest run that stored data (None: none usable)."""

    account: LinkedAccount | None
    run: SyncRun | None
    page_digests: dict[str, Any] | None = None


def run_claim(
    *, account_id: str, trigger: str, reason: str, schedulable: tuple[str, ...], integrations: list[str]
) -> Claim:
    """Claim a run of the account unless it is INCOMPLETE, its integration is not one of
    `integrations`, or (`schedulable` given) its status is not one of them. A Claim with an
    account and no run: refused; raises IntegrityError when a run of the account is going."""
    now = timezone.now()
    run = SyncRun(
        id=uuid7(),
        trigger=trigger,
        reason=reason[:200],
        started_at=now,
        lease_expires_at=now + timedelta(seconds=settings.SYNC_RUN_LEASE_SECONDS),
    )
    if connection.vendor != "postgresql":
        return _claim_orm(account_id=account_id, run=run, schedulable=schedulable, integrations=integrations)
    sql, fields = _claim_sql()
    values = [field.get_db_prep_save(getattr(run, field.attname), connection) for field in fields]
    params = [account_id, *values, integrations, not schedulable, [str(s) for s in schedulable]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return Claim(None, None)
    names = _account_attnames()
    account = LinkedAccount.from_db(connection.alias, names, row[: len(names)])
    claimed, digests = row[len(names)], row[len(names) + 1]
    if isinstance(digests, str):  # Django has psycopg hand jsonb over as text
        digests = json.loads(digests)
    if not claimed:
        if _claimable(account, schedulable, integrations):
            raise IntegrityError(f"a run of {account.pk} is going")
        return Claim(account, None)
    run.linked_account_id = account.pk
    run.organization_id = account.organization_id
    run.integration = account.integration
    run._state.adding = False
    run._state.db = connection.alias
    return Claim(account, run, digests)


def _claimable(account: LinkedAccount, schedulable: tuple[str, ...], integrations: list[str]) -> bool:
    return (
        account.status != LinkedAccountStatus.INCOMPLETE
        and account.integration in integrations
        and (not schedulable or account.status in schedulable)
    )


_SQL_CACHE: dict[str, Any] = {}


def _account_attnames() -> list[str]:
    return [f.attname for f in LinkedAccount._meta.concrete_fields]


def _claim_sql() -> tuple[str, list]:
    """The claim statement and the run fields its VALUES take, in order (every concrete field
    but the three read from the account row)."""
    if "claim" not in _SQL_CACHE:
        account_columns = ", ".join(f.column for f in LinkedAccount._meta.concrete_fields)
        from_account = {
            "linked_account_id": "a.id",
            "organization_id": "a.organization_id",
            "integration": "a.integration",
        }
        fields = [f for f in SyncRun._meta.concrete_fields if f.column not in from_account]
        columns = [*from_account, *(f.column for f in fields)]
        selected = [*from_account.values(), *("%s" for _ in fields)]
        runs = SyncRun._meta.db_table
        stored = ", ".join(f"'{s}'" for s in _STORED)
        sql = f"""
            WITH a AS (SELECT {account_columns} FROM {LinkedAccount._meta.db_table} WHERE id = %s),
            run AS (
                INSERT INTO {runs} ({", ".join(columns)})
                SELECT {", ".join(selected)} FROM a
                WHERE a.status <> 'INCOMPLETE' AND a.integration = ANY(%s) AND (%s OR a.status = ANY(%s))
                ON CONFLICT (linked_account_id) WHERE status = 'RUNNING' DO NOTHING
                RETURNING id
            )
            SELECT a.*, EXISTS (SELECT 1 FROM run), (
                SELECT r.page_digests FROM {runs} r
                WHERE r.linked_account_id = a.id AND r.status IN ({stored})
                ORDER BY r.started_at DESC LIMIT 1
            )
            FROM a
        """  # noqa: S608 - names from model meta; values are parameters
        _SQL_CACHE["claim"] = (sql, fields)
    return _SQL_CACHE["claim"]


def _claim_orm(*, account_id: str, run: SyncRun, schedulable, integrations) -> Claim:
    account = LinkedAccount.objects.filter(pk=account_id).first()
    if account is None or not _claimable(account, schedulable, integrations):
        return Claim(account, None)
    run.linked_account = account
    run.organization_id = account.organization_id
    run.integration = account.integration
    with transaction.atomic():
        run.save(force_insert=True)
    digests = (
        SyncRun.objects.filter(linked_account_id=account.pk, status__in=_STORED)
        .order_by("-started_at")
        .values_list("page_digests", flat=True)
        .first()
    )
    return Claim(account, run, digests)


def run_account_lock(account_id) -> LinkedAccount | None:
    """The account row, locked (deleted mid-run: None), with its organization and what the
    status rule needs to know up front (`status_rule_hints`). One statement on PostgreSQL,
    compiled once per process: the ORM built it anew for every run."""
    if connection.vendor != "postgresql":
        return (
            LinkedAccount.objects.select_for_update()
            .select_related("organization")
            .annotate(**status_rule_hints())
            .filter(pk=account_id)
            .first()
        )
    sql, params, hint_names = _lock_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, account_id, account_id])
        row = cursor.fetchone()
    if row is None:
        return None
    account_names = [f.attname for f in LinkedAccount._meta.concrete_fields]
    organization_names = [f.attname for f in Organization._meta.concrete_fields]
    split = len(account_names)
    account = LinkedAccount.from_db(connection.alias, account_names, row[:split])
    organization = Organization.from_db(
        connection.alias, organization_names, row[split : split + len(organization_names)]
    )
    account._state.fields_cache["organization"] = organization
    for name, value in zip(hint_names, row[split + len(organization_names) :], strict=True):
        setattr(account, name, value)
    return account


_LOCK_SQL: list[tuple[str, list, list[str]]] = []


def _lock_sql() -> tuple[str, list, list[str]]:
    if not _LOCK_SQL:
        hints = status_rule_hints()
        hint_sql, hint_params = (
            LinkedAccount.objects.annotate(**hints)
            .values_list(*hints)
            .filter(pk=uuid.UUID(int=0))
            .query.sql_with_params()
        )
        hint_params = list(hint_params)
        hint_params.pop()  # the placeholder id, given per run
        accounts, organizations = LinkedAccount._meta.db_table, Organization._meta.db_table
        columns = [f"a.{f.column}" for f in LinkedAccount._meta.concrete_fields]
        columns += [f"o.{f.column}" for f in Organization._meta.concrete_fields]
        # Lock the account row only: a plain FOR UPDATE would also lock the joined
        # organization row and make every finishing sync of an organization wait in line.
        sql = f"""
            SELECT {", ".join(columns)}, h.* FROM {accounts} a
            JOIN {organizations} o ON o.id = a.organization_id
            CROSS JOIN ({hint_sql}) h
            WHERE a.id = %s FOR UPDATE OF a
        """  # noqa: S608 - names from model meta, the hints compiled by the ORM; values are parameters
        _LOCK_SQL.append((sql, hint_params, list(hints)))
    return _LOCK_SQL[0]


def run_succeeded(
    *,
    run: SyncRun,
    account: LinkedAccount,
    log: list[LoggedRequest],
    fields: dict[str, Any],
    next_sync_at: datetime | None,
) -> bool:
    """Inside the run's transaction: its request logs, `fields` on the run, the account's next
    sync time and the release of its dispatch lease; only if the run is still RUNNING (the
    recovery job may have failed it). False when it was not: the caller rolls back."""
    if connection.vendor != "postgresql":
        request_logs_write(entries=log, integration=run.integration, account=account, run=run)
        if not SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.RUNNING).update(**fields):
            return False
        LinkedAccount.objects.filter(pk=account.pk).update(next_sync_at=next_sync_at)
        SyncDispatch.objects.filter(linked_account_id=account.pk).delete()
        return True
    names = list(fields)
    sets = []
    params: list[Any] = []
    for name in names:
        field = SyncRun._meta.get_field(name)
        sets.append(f"{field.column} = %s")
        params.append(field.get_db_prep_save(fields[name], connection))
    params.append(run.pk)
    logs = [
        [e.method for e in log],
        [e.url for e in log],
        [e.status_code for e in log],
        [e.duration_ms for e in log],
        [e.error_class for e in log],
        [e.started_at for e in log],
    ]
    params += [account.pk, account.organization_id, run.integration, *logs]
    params += [next_sync_at, account.pk, account.pk]
    sql = f"""
        WITH r AS (
            UPDATE {SyncRun._meta.db_table} SET {", ".join(sets)}
            WHERE id = %s AND status = 'RUNNING' RETURNING id
        ), logs AS (
            INSERT INTO {RequestLog._meta.db_table} (linked_account_id, sync_run_id, organization_id,
                integration, method, url, status_code, duration_ms, error_class, created_at)
            SELECT %s, r.id, %s, %s, l.method, l.url, l.status_code, l.duration_ms, l.error_class, l.created_at
            FROM r, unnest(%s::text[], %s::text[], %s::int[], %s::int[], %s::text[], %s::timestamptz[])
                AS l(method, url, status_code, duration_ms, error_class, created_at)
        ), next_time AS (
            UPDATE {LinkedAccount._meta.db_table} SET next_sync_at = %s
            WHERE id = %s AND EXISTS (SELECT 1 FROM r)
        ), released AS (
            DELETE FROM {SyncDispatch._meta.db_table} WHERE linked_account_id = %s AND EXISTS (SELECT 1 FROM r)
        )
        SELECT count(*) FROM r
    """  # noqa: S608 - names from model meta; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (updated,) = cursor.fetchone()
    return bool(updated)
