"""One sync run of one linked account: claim the run, fetch every page of every common model
outside any transaction, then finish in one transaction: the request logs, the data (stored only
when the run fully succeeded, by `syncs.storage`), the run's result, the status rule
(`syncs.status_rule`) and the next scheduled time."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.log_context import log_context_bind
from accounts.models import LinkedAccount, LinkedAccountStatus
from accounts.selectors import linked_account_credentials

from . import integrations
from .dispatch import SCHEDULABLE, sync_dispatch_release, sync_next_time
from .integrations.base import ErrorClass, LoggedRequest, ProviderError, RecordError
from .metrics import provider_requests_observe, sync_run_observe
from .models import SyncRun, SyncRunStatus, SyncTrigger
from .request_logs import request_log_blame_last, request_logs_write
from .run_failure import sync_run_fail
from .status_rule import linked_account_apply_status_rule
from .storage import COUNT_KEYS, synced_records_store

logger = logging.getLogger(__name__)

# A running sync tells the dashboard how far it got at most this often.
PROGRESS_INTERVAL_SECONDS = 0.5


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
    log_context_bind(organization_id=account.organization_id, linked_account_id=account.pk)
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
    session = integration.session(credentials, account=account, tenant=str(account.organization_id))
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
        request_log_blame_last(session=session, error_class=exc.error_class)
        return _Outcome(exc, {}, skipped)
    except SoftTimeLimitExceeded:
        return _Outcome(
            ProviderError(ErrorClass.TIME_LIMIT, "The sync ran past its time limit."), {}, skipped
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.exception("sync of %s failed on an unexpected provider answer", integration.slug)
        request_log_blame_last(session=session, error_class=ErrorClass.BAD_RESPONSE)
        return _Outcome(
            ProviderError(ErrorClass.BAD_RESPONSE, f"Unexpected provider answer ({type(exc).__name__})."),
            {},
            skipped,
        )


def _finish(
    *,
    run: SyncRun,
    account: LinkedAccount,
    log: list[LoggedRequest],
    outcome: _Outcome,
    credentials_version: str,
) -> SyncRun | None:
    if outcome.error is not None:
        return sync_run_fail(
            run=run,
            account=account,
            log=log,
            error=outcome.error,
            skipped=outcome.skipped,
            credentials_version=credentials_version,
        )
    now = timezone.now()
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
        counts = synced_records_store(
            account=locked, records=outcome.records, now=now, complete=not outcome.skipped
        )
        fields["model_counts"] = counts
        for key in COUNT_KEYS:
            fields[f"records_{key}"] = sum(c[key] for c in counts.values())
        fields["status"] = SyncRunStatus.PARTIALLY_SYNCED if outcome.skipped else SyncRunStatus.DONE
        # Only the run that still holds its lease may report (the recovery job may have failed it).
        if not SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.RUNNING).update(**fields):
            transaction.set_rollback(True)
            return None
        for key, value in fields.items():
            setattr(run, key, value)
        linked_account_apply_status_rule(account=locked, run=run)
        next_at = sync_next_time(account=locked, after=run.started_at)
        LinkedAccount.objects.filter(pk=locked.pk).update(next_sync_at=next_at)
        sync_dispatch_release(account_ids=[locked.pk])
    sync_run_observe(
        integration=run.integration, result=run.status, seconds=(now - run.started_at).total_seconds()
    )
    provider_requests_observe(integration=run.integration, error_classes=[e.error_class for e in log])
    return run
