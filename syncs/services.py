"""Writes of the syncs app: credential checks, sync runs and the Relink Needed rule, the dispatch
tick, recovery and retention jobs, IDLE marking, and the sandbox provider's controls."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.ids import uuid7
from accounts.models import LinkedAccount, LinkedAccountStatus, SyncFrequency
from accounts.selectors import linked_account_credentials, linked_account_details
from accounts.services import (
    linked_account_mark_complete,
    linked_account_mark_idle,
    linked_account_mark_relink_needed,
)
from issues.models import ErrorDescription, WebhookEvent
from issues.services import issue_record_failure, issues_resolve_for_account
from issues.webhooks.events import webhook_event_emit

from . import integrations
from .integrations.base import ErrorClass, LoggedRequest, ProviderError, RecordError
from .models import Employee, RequestLog, SyncDispatch, SyncRun, SyncRunStatus, SyncTrigger
from .selectors import sync_status_rows  # noqa: F401  (part of this module's agreed interface)

logger = logging.getLogger(__name__)

# A running sync tells the dashboard how far it got at most this often.
PROGRESS_INTERVAL_SECONDS = 0.5

ERROR_DESCRIPTION: dict[str, str] = {
    ErrorClass.CREDENTIALS_REJECTED: ErrorDescription.INVALID_API_KEY,
    ErrorClass.MISSING_PERMISSIONS: ErrorDescription.MISSING_PERMISSIONS,
    ErrorClass.RATE_LIMITED: ErrorDescription.RATE_LIMITED,
    ErrorClass.PROVIDER_OFFLINE: ErrorDescription.THIRD_PARTY_OFFLINE,
}

# Plain words for the end user on the link page: never the credentials, never provider internals.
END_USER_MESSAGE: dict[str, str] = {
    ErrorClass.CREDENTIALS_REJECTED: "These credentials were rejected. Check them and try again.",
    ErrorClass.MISSING_PERMISSIONS: "These credentials work but lack a permission we need. "
    "Ask your administrator for read access to employees.",
    ErrorClass.RATE_LIMITED: "The service is busy right now. Please try again in a few minutes.",
    ErrorClass.PROVIDER_OFFLINE: "We could not reach the service. Please try again in a few minutes.",
    ErrorClass.BAD_RESPONSE: "The service answered in a way we did not understand. Please try again later.",
}

INTERVALS = {
    SyncFrequency.EVERY_5_MINUTES: timedelta(minutes=5),
    SyncFrequency.HOURLY: timedelta(hours=1),
    SyncFrequency.DAILY: timedelta(days=1),
}
IDLE_INTERVAL = timedelta(days=1)
SCHEDULABLE = (LinkedAccountStatus.COMPLETE, LinkedAccountStatus.IDLE)


# --- credentials ---------------------------------------------------------------------------------
@dataclass
class CredentialCheck:
    ok: bool
    error_description: str | None  # an issues ErrorDescription value, or None
    message: str  # for the end user; never echoes the credentials


def credentials_validate(*, integration: str, credentials: dict[str, Any]) -> CredentialCheck:
    """One real request to the provider with these credentials."""
    found = integrations.find(integration)
    if found is None:
        return CredentialCheck(False, None, "This integration is not available.")
    missing = found.missing_credentials(credentials)
    if missing:
        labels = [f.label for f in found.credential_fields if f.name in missing]
        return CredentialCheck(False, None, f"Please fill in: {', '.join(labels)}.")
    session = found.session(credentials)
    try:
        found.validate(credentials, session)
        result = CredentialCheck(True, None, "Connected.")
    except ProviderError as exc:
        _blame_last_request(session, exc.error_class)
        result = CredentialCheck(
            False,
            ERROR_DESCRIPTION.get(exc.error_class),
            END_USER_MESSAGE.get(exc.error_class, END_USER_MESSAGE[ErrorClass.BAD_RESPONSE]),
        )
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        logger.exception("credential validation for %s crashed", integration)
        result = CredentialCheck(False, None, END_USER_MESSAGE[ErrorClass.BAD_RESPONSE])
    request_logs_write(entries=session.log, integration=integration)
    return result


# --- request logs --------------------------------------------------------------------------------
def request_logs_write(
    *,
    entries: Iterable[LoggedRequest],
    integration: str,
    account: LinkedAccount | None = None,
    run: SyncRun | None = None,
) -> int:
    """Bulk-write request logs: one INSERT for a run's few rows, COPY on PostgreSQL for many."""
    entries = list(entries)
    if not entries:
        return 0
    account_id = account.pk if account else None
    organization_id = account.organization_id if account else None
    run_id = run.pk if run else None
    if connection.vendor == "postgresql" and len(entries) >= COPY_THRESHOLD:
        columns = (
            "linked_account_id, sync_run_id, organization_id, integration, method, url, "
            "status_code, duration_ms, error_class, created_at"
        )
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {RequestLog._meta.db_table} ({columns}) FROM STDIN") as copy,
        ):
            for e in entries:
                copy.write_row(
                    (
                        account_id,
                        run_id,
                        organization_id,
                        integration,
                        e.method,
                        e.url,
                        e.status_code,
                        e.duration_ms,
                        e.error_class,
                        e.started_at,
                    )
                )
        return len(entries)
    RequestLog.objects.bulk_create(
        [
            RequestLog(
                linked_account_id=account_id,
                sync_run_id=run_id,
                organization_id=organization_id,
                integration=integration,
                method=e.method,
                url=e.url,
                status_code=e.status_code,
                duration_ms=e.duration_ms,
                error_class=e.error_class,
                created_at=e.started_at,
            )
            for e in entries
        ],
        batch_size=2000,
    )
    return len(entries)


COPY_THRESHOLD = 200


def request_logs_prune(*, older_than_days: int | None = None, batch_size: int = 10_000) -> int:
    """Delete request logs past retention, in batches (short locks, bounded transactions)."""
    days = settings.REQUEST_LOG_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    total = 0
    while True:
        ids = list(
            RequestLog.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return total
        total += RequestLog.objects.filter(id__in=ids).delete()[0]


# --- scheduling ----------------------------------------------------------------------------------
def sync_next_time(*, account: LinkedAccount, after: datetime) -> datetime | None:
    """When the account's next scheduled sync is due; None for manual-only accounts."""
    frequency = account.sync_frequency or account.organization.default_sync_frequency
    interval = INTERVALS.get(frequency)
    if interval is None:
        return None
    if account.status == LinkedAccountStatus.IDLE:
        interval = max(interval, IDLE_INTERVAL)
    return after + interval


def sync_queue_now(*, account: LinkedAccount, reason: str) -> None:
    """Queue one sync of the account as this transaction commits, whatever its schedule, also
    when RELINK_NEEDED (a forced attempt). Runs never overlap: a run that finds one going
    waits and retries."""
    from .tasks import sync_account

    account_id = str(account.pk)

    def publish() -> None:
        try:
            sync_account.apply_async(
                args=[account_id], kwargs={"trigger": SyncTrigger.FORCED, "reason": reason[:200]}
            )
        except Exception:
            # Broker down: not lost, and not a 500 for the caller. The account is made due now,
            # so the dispatcher runs it as soon as the broker is back.
            logger.warning("could not queue a sync of %s (broker down); made it due instead", account_id)
            LinkedAccount.objects.filter(pk=account_id).update(next_sync_at=timezone.now())

    transaction.on_commit(publish)


def sync_dispatch_due(*, now: datetime | None = None, limit: int | None = None) -> int:
    """One beat tick: claim every due account with one query (a SyncDispatch row per account,
    held until its run finishes or the lease passes, so no dispatcher hands it out twice) and
    hand them out, one message per batch."""
    from .tasks import sync_accounts_batch

    now = now or timezone.now()
    limit = limit or settings.SYNC_DISPATCH_MAX_PER_TICK
    lease_until = now + timedelta(seconds=settings.SYNC_DISPATCH_LEASE_SECONDS)
    ids = _claim_due(now=now, lease_until=lease_until, limit=limit)
    if not ids:
        return 0
    size = settings.SYNC_DISPATCH_BATCH_SIZE
    published = 0
    try:
        with sync_accounts_batch.app.producer_or_acquire() as producer:
            for start in range(0, len(ids), size):
                sync_accounts_batch.apply_async(args=[ids[start : start + size]], producer=producer)
                published = start + size
    except Exception:
        # Broker down: the accounts not handed out are due again at the next tick, not only once
        # their lease has passed.
        _release_dispatch(account_ids=ids[published:])
        raise
    return len(ids)


def _claim_due(*, now: datetime, lease_until: datetime, limit: int) -> list[str]:
    """The claim: the due accounts not handed out yet (an index-only scan of the partial `la_due`
    index, in (next_sync_at, id) order), inserted into SyncDispatch; a row whose lease passed
    is taken over. The account rows are not written. Two dispatchers at once insert the same
    ids in the same order: the second waits for the first to commit, then finds the rows
    leased and skips them (the WHERE of DO UPDATE), so each account is handed out once."""
    accounts = LinkedAccount._meta.db_table
    dispatch = SyncDispatch._meta.db_table
    statuses = [str(s) for s in SCHEDULABLE]
    sql = f"""
        WITH due AS (
            SELECT a.id FROM {accounts} a
            WHERE a.status IN (%s, %s) AND a.next_sync_at IS NOT NULL AND a.next_sync_at <= %s
              AND NOT EXISTS (
                  SELECT 1 FROM {dispatch} d WHERE d.linked_account_id = a.id AND d.leased_until > %s
              )
            ORDER BY a.next_sync_at, a.id
            LIMIT %s
        )
        INSERT INTO {dispatch} (linked_account_id, leased_until)
        SELECT id, %s FROM due WHERE true
        ON CONFLICT (linked_account_id) DO UPDATE SET leased_until = excluded.leased_until
        WHERE {dispatch}.leased_until <= %s
        RETURNING linked_account_id
    """  # noqa: S608 - table names from model meta; values are parameters ("WHERE true": SQLite's parser)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [*statuses, now, now, limit, lease_until, now])
        rows = cursor.fetchall()
    return [str(r[0]) if not isinstance(r[0], str) else _uuid_str(r[0]) for r in rows]


def _release_dispatch(*, account_ids: list) -> None:
    """The run of a handed-out account is over: the account may be handed out again as soon as
    it is next due."""
    SyncDispatch.objects.filter(linked_account_id__in=account_ids).delete()


def _uuid_str(value: str) -> str:
    # SQLite stores UUIDs as 32 hex characters.
    if len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def sync_batch_expand(*, account_ids: list[str]) -> int:
    """A worker turns one dispatch batch into one sync task per account (parallel across workers)."""
    from .tasks import sync_account

    with sync_account.app.producer_or_acquire() as producer:
        for account_id in account_ids:
            sync_account.apply_async(
                args=[account_id], kwargs={"trigger": SyncTrigger.SCHEDULE}, producer=producer
            )
    return len(account_ids)


def sync_runs_recover_expired(*, now: datetime | None = None) -> int:
    """Fail runs whose worker vanished (lease expired) and make their accounts due again."""
    now = now or timezone.now()
    expired = list(
        SyncRun.objects.filter(status=SyncRunStatus.RUNNING, lease_expires_at__lt=now).values_list(
            "id", "linked_account_id"
        )[:1000]
    )
    recovered = 0
    for run_id, account_id in expired:
        with transaction.atomic():
            updated = SyncRun.objects.filter(pk=run_id, status=SyncRunStatus.RUNNING).update(
                status=SyncRunStatus.FAILED,
                finished_at=now,
                error_class=ErrorClass.LEASE_EXPIRED,
                error_message="The worker running this sync stopped before finishing it.",
            )
            if updated:
                recovered += 1
                # Due now, also when it had no next time (a manual-only account, or a new
                # account whose first, forced, sync died): the lost run is run again once; its
                # end sets the real next time.
                LinkedAccount.objects.filter(pk=account_id).update(next_sync_at=now)
                _release_dispatch(account_ids=[account_id])
    return recovered


# --- one sync run ----------------------------------------------------------------------------------
class SyncAlreadyRunning(Exception):
    pass


@dataclass
class _Outcome:
    error: ProviderError | None
    records: dict[str, list[dict[str, Any]]]
    skipped: int = 0


def sync_run_account(*, account_id: str, trigger: str, reason: str = "") -> SyncRun | None:
    """Run one sync of one account: fetch everything, then (in one transaction) write the data
    if and only if the run fully succeeded, the request logs, and the status/issue rule.
    Returns None when there was nothing to do; raises SyncAlreadyRunning when a run is going."""
    # No organization here: `_finish` reads the account again, locked, with it.
    account = LinkedAccount.objects.filter(pk=account_id).first()
    if account is None or account.status == LinkedAccountStatus.INCOMPLETE:
        return None
    if trigger == SyncTrigger.SCHEDULE and account.status not in SCHEDULABLE:
        return None  # paused (RELINK_NEEDED) since it was dispatched
    integration = integrations.find(account.integration)
    if integration is None:
        logger.warning("account %s has unknown integration %r; not syncing", account.pk, account.integration)
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                linked_account=account,
                organization_id=account.organization_id,
                integration=account.integration,
                trigger=trigger,
                reason=reason[:200],
                started_at=now,
                lease_expires_at=now + timedelta(seconds=settings.SYNC_RUN_LEASE_SECONDS),
            )
    except IntegrityError:
        raise SyncAlreadyRunning(str(account.pk))

    credentials_version = account.credentials_encrypted
    credentials = linked_account_credentials(account=account)
    session = integration.session(credentials)
    outcome = _fetch(integration=integration, credentials=credentials, session=session, run_id=run.id)
    return _finish(
        run=run,
        account=account,
        log=session.log,
        outcome=outcome,
        credentials_version=credentials_version,
    )


def _report_progress(*, run_id, session, fetched: int) -> None:
    """Pages and records so far, for the dashboard's polling badge (the run's final counts are
    written by `_finish`)."""
    SyncRun.objects.filter(pk=run_id, finished_at__isnull=True).update(
        requests_total=len(session.log), records_fetched=fetched
    )


def _fetch(*, integration, credentials, session, run_id=None) -> _Outcome:
    records: dict[str, list[dict[str, Any]]] = {}
    skipped = 0
    cap = settings.SYNC_MAX_RECORDS_PER_RUN
    last_progress = time.monotonic()
    try:
        if integration.missing_credentials(credentials):
            raise ProviderError(
                ErrorClass.CREDENTIALS_REJECTED, "No credentials are stored for this account."
            )
        for model in integration.common_models:
            mapped = records.setdefault(model, [])
            for page in integration.fetch_pages(credentials, session, model):
                if not isinstance(page, list):
                    raise ProviderError(ErrorClass.BAD_RESPONSE, "A page was not a list of records.")
                for raw in page:
                    try:
                        mapped.append(integration.map_record(model, raw))
                    except RecordError:
                        skipped += 1
                if len(mapped) > cap:
                    raise ProviderError(ErrorClass.BAD_RESPONSE, f"More than {cap} records in one run.")
                if run_id is not None and time.monotonic() - last_progress >= PROGRESS_INTERVAL_SECONDS:
                    _report_progress(run_id=run_id, session=session, fetched=sum(map(len, records.values())))
                    last_progress = time.monotonic()
        return _Outcome(None, records, skipped)
    except ProviderError as exc:
        _blame_last_request(session, exc.error_class)
        return _Outcome(exc, {}, skipped)
    except SoftTimeLimitExceeded:
        return _Outcome(
            ProviderError(ErrorClass.TIME_LIMIT, "The sync ran past its time limit."), {}, skipped
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.exception("sync of %s failed on an unexpected provider answer", integration.slug)
        _blame_last_request(session, ErrorClass.BAD_RESPONSE)
        return _Outcome(
            ProviderError(ErrorClass.BAD_RESPONSE, f"Unexpected provider answer ({type(exc).__name__})."),
            {},
            skipped,
        )


def _blame_last_request(session, error_class: str) -> None:
    """An answer that arrived fine but was unusable (HTML, bad JSON, wrong shape) is a failed
    request too: the Relink Needed rule counts it."""
    if session.log and not session.log[-1].error_class:
        session.log[-1].error_class = error_class


def _finish(
    *,
    run: SyncRun,
    account: LinkedAccount,
    log: list[LoggedRequest],
    outcome: _Outcome,
    credentials_version: str,
) -> SyncRun | None:
    now = timezone.now()
    error = outcome.error
    failed = sum(1 for e in log if e.failed)
    with transaction.atomic():
        locked = (
            # Lock the account row only: a plain FOR UPDATE would also lock the joined
            # organization row and make every finishing sync of an organization wait in line.
            LinkedAccount.objects.select_for_update(of=("self",))
            .select_related("organization")
            .filter(pk=account.pk)
            .first()
        )
        if locked is None:
            return None  # deleted mid-run: its runs, logs and data are gone with it
        request_logs_write(entries=log, integration=run.integration, account=locked, run=run)
        fields: dict[str, Any] = {
            "finished_at": now,
            "requests_total": len(log),
            "requests_failed": failed,
            "records_skipped": outcome.skipped,
        }
        if error is None:
            counts = _store_records(
                account=locked, records=outcome.records, now=now, complete=not outcome.skipped
            )
            fields.update(counts)
            fields["status"] = SyncRunStatus.PARTIALLY_SYNCED if outcome.skipped else SyncRunStatus.DONE
        else:
            fields.update(
                status=SyncRunStatus.FAILED, error_class=error.error_class, error_message=str(error)[:500]
            )
        # Only the run that still holds its lease may report (the recovery job may have failed it).
        if not SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.RUNNING).update(**fields):
            transaction.set_rollback(True)
            return None
        for key, value in fields.items():
            setattr(run, key, value)
        superseded = locked.credentials_encrypted != credentials_version
        _apply_rule(
            account=locked,
            run=run,
            error=error,
            all_failed=bool(log) and failed == len(log),
            superseded=superseded,
        )
        next_at = sync_next_time(account=locked, after=run.started_at)
        LinkedAccount.objects.filter(pk=locked.pk).update(next_sync_at=next_at)
        _release_dispatch(account_ids=[locked.pk])
    return run


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


def _apply_rule(
    *, account: LinkedAccount, run: SyncRun, error: ProviderError | None, all_failed: bool, superseded: bool
) -> None:
    """The Relink Needed rule, inside the run's transaction (the account row is locked)."""
    if error is None:
        issues_resolve_for_account(account=account, reason="A sync succeeded")
        forced = run.trigger == SyncTrigger.FORCED
        if account.status == LinkedAccountStatus.RELINK_NEEDED or (
            forced and account.status == LinkedAccountStatus.IDLE
        ):
            linked_account_mark_complete(account=account, reason="A sync succeeded")
        webhook_event_emit(
            organization=account.organization,
            event=WebhookEvent.SYNC_COMPLETED,
            account_details=linked_account_details(account=account),
            data=_sync_completed_data(account=account, run=run),
        )
        return
    if superseded:
        return  # the credentials changed (a relink) while this run used the old ones
    description = ERROR_DESCRIPTION.get(error.error_class)
    if description:
        issue_record_failure(account=account, error_description=description, detail=str(error))
    credential_error = error.error_class in (ErrorClass.CREDENTIALS_REJECTED, ErrorClass.MISSING_PERMISSIONS)
    if account.status in SCHEDULABLE and (credential_error or all_failed):
        cause = description or error.error_class
        if credential_error:
            reason = f"{cause}: the provider rejected the credentials"
        else:
            reason = f"Every request of the latest sync failed ({cause})"
        linked_account_mark_relink_needed(account=account, reason=reason)


def _sync_completed_data(*, account: LinkedAccount, run: SyncRun) -> dict[str, Any]:
    return {
        "integration_name": account.integration,
        "sync_run_id": str(run.pk),
        "result": run.status,
        "last_sync_start": run.started_at.isoformat(),
        "last_sync_finished": run.finished_at.isoformat() if run.finished_at else None,
        "models": [
            {
                "model_name": "Employee",
                "model_id": "hris.Employee",
                "records_created": run.records_created,
                "records_updated": run.records_updated,
                "records_deleted": run.records_deleted,
            }
        ],
    }


# --- IDLE ----------------------------------------------------------------------------------------------
def linked_accounts_mark_idle(*, now: datetime | None = None, limit: int = 1000) -> int:
    """COMPLETE accounts with no inbound API request for IDLE_AFTER_DAYS become IDLE."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.IDLE_AFTER_DAYS)
    candidates = LinkedAccount.objects.filter(status=LinkedAccountStatus.COMPLETE).filter(
        Q(last_inbound_at__lt=cutoff)
        | Q(last_inbound_at__isnull=True, completed_at__lt=cutoff)
        | Q(last_inbound_at__isnull=True, completed_at__isnull=True, created_at__lt=cutoff)
    )
    count = 0
    for account in candidates.only("id", "status", "organization_id")[:limit]:
        try:
            linked_account_mark_idle(
                account=account, reason=f"No API request for this account in {settings.IDLE_AFTER_DAYS} days"
            )
            count += 1
        except Exception:  # TransitionNotAllowed: it changed meanwhile
            logger.info("account %s changed before it could be marked idle", account.pk)
    return count


# --- sandbox provider controls -----------------------------------------------------------------------
class SandboxError(Exception):
    pass


def _sandbox_control(action: str, body: dict[str, Any]) -> dict[str, Any]:
    url = f"{settings.SANDBOX_PROVIDER_URL.rstrip('/')}/control/{action}"
    try:
        response = httpx.post(
            url, json=body, headers={"X-Sandbox-Control": settings.SANDBOX_CONTROL_TOKEN}, timeout=5.0
        )
    except httpx.HTTPError as exc:
        raise SandboxError(f"The sandbox provider is not reachable ({type(exc).__name__}).")
    if response.status_code != 200:
        raise SandboxError(
            f"The sandbox provider refused the {action} control (HTTP {response.status_code})."
        )
    return response.json()


def sandbox_revoke_key(*, api_key: str) -> None:
    _sandbox_control("revoke", {"api_key": api_key})


def sandbox_rotate_key(*, api_key: str) -> str:
    return _sandbox_control("rotate", {"api_key": api_key})["api_key"]


def sandbox_set_outage(*, api_key: str, mode: str) -> None:
    _sandbox_control("outage", {"api_key": api_key, "mode": mode})


def sandbox_set_latency(*, ms: int) -> None:
    _sandbox_control("latency", {"ms": ms})
