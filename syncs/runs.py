"""One sync run of one linked account: claim the run, fetch every page of every common model
outside any transaction, then finish in one transaction: the request logs, the data (stored only
when the run fully succeeded, by `syncs.storage`), the run's result, the status rule
(`syncs.status_rule`) and the next scheduled time.

A succeeding run's own rows take two statements (`syncs.run_bookkeeping`), and pages identical
to those of the latest run that stored data are neither mapped nor stored again
(`syncs.page_digests`). A failing run finishes in `_finish_failed`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.log_context import log_context_bind
from accounts.models import LinkedAccount, LinkedAccountStatus
from accounts.selectors import linked_account_credentials

from . import common_models, integrations
from .common_models import normalise_remote_id
from .dispatch import SCHEDULABLE, sync_next_time
from .integrations.base import ErrorClass, LoggedRequest, ProviderError, RecordError
from .metrics import provider_requests_observe, sync_run_observe
from .models import SyncRun, SyncRunStatus, SyncTrigger
from .page_digests import PageDigests
from .request_logs import request_log_blame_last
from .run_bookkeeping import run_account_lock, run_claim, run_succeeded
from .run_failure import sync_run_fail
from .status_rule import linked_account_apply_status_rule
from .storage import COUNT_KEYS, live_rows, synced_records_store

logger = logging.getLogger(__name__)

# A running sync tells the dashboard how far it got at most this often.
PROGRESS_INTERVAL_SECONDS = 0.5


class SyncAlreadyRunning(Exception):
    pass


@dataclass
class _Outcome:
    error: ProviderError | None
    records: dict[str, list[dict[str, Any]]]  # mapped records to store, per model
    skipped: int = 0
    # Per model, the records on pages identical to the last stored run's, by remote id.
    present: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # Models whose every page was identical: their pages (nothing to store once checked).
    unchanged: dict[str, list[list]] = field(default_factory=dict)
    digests: PageDigests | None = None
    integration: Any = None


def sync_run_account(*, account_id: str, trigger: str, reason: str = "") -> SyncRun | None:
    """Run one sync of one account: fetch everything, then (in one transaction) write the data
    if and only if the run fully succeeded, the request logs, and the status/issue rule.
    Returns None when there was nothing to do; raises SyncAlreadyRunning when a run is going."""
    # A scheduled run of an account paused (RELINK_NEEDED) since it was dispatched: none.
    schedulable = SCHEDULABLE if trigger == SyncTrigger.SCHEDULE else ()
    try:
        # No organization here: `_finish` reads the account again, locked, with it.
        claim = run_claim(
            account_id=account_id,
            trigger=trigger,
            reason=reason,
            schedulable=schedulable,
            integrations=integrations.slugs(),
        )
    except IntegrityError:
        raise SyncAlreadyRunning(str(account_id))
    account, run = claim.account, claim.run
    if account is None:
        return None
    log_context_bind(organization_id=account.organization_id, linked_account_id=account.pk)
    if run is None:
        if (
            account.status != LinkedAccountStatus.INCOMPLETE
            and integrations.find(account.integration) is None
        ):
            logger.warning(
                "account %s has unknown integration %r; not syncing", account.pk, account.integration
            )
        return None
    integration = integrations.get(account.integration)
    digests = PageDigests(integration=integration, previous=claim.page_digests, now=run.started_at)
    credentials_version = account.credentials_encrypted
    credentials = linked_account_credentials(account=account)
    session = integration.session(credentials, account=account, tenant=str(account.organization_id))
    outcome = _fetch(
        integration=integration, credentials=credentials, session=session, run_id=run.id, digests=digests
    )
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


def _fetch(*, integration, credentials, session, run_id=None, digests: PageDigests | None = None) -> _Outcome:
    records: dict[str, list[dict[str, Any]]] = {}
    outcome = _Outcome(None, records, digests=digests, integration=integration)
    cap = settings.SYNC_MAX_RECORDS_PER_RUN
    last_progress = time.monotonic()
    try:
        if integration.missing_credentials(credentials):
            raise ProviderError(
                ErrorClass.CREDENTIALS_REJECTED, "No credentials are stored for this account."
            )
        fetched = 0
        for model in integration.common_models:
            mapped = records.setdefault(model, [])
            same_pages: list[list] = []
            same_records = 0
            # In page order: an identical page's raw records, or where a page's mapped ones are.
            order: list[list | tuple[int, int]] = []
            for index, page in enumerate(integration.fetch_pages(credentials, session, model)):
                if not isinstance(page, list):
                    raise ProviderError(ErrorClass.BAD_RESPONSE, "A page was not a list of records.")
                fetched += len(page)
                if digests is not None and digests.seen(model, index, page):
                    same_pages.append(page)
                    same_records += len(page)
                    order.append(page)
                else:
                    start = len(mapped)
                    outcome.skipped += _map_page(integration, model, page, into=mapped)
                    order.append((start, len(mapped)))
                if len(mapped) + same_records > cap:
                    raise ProviderError(ErrorClass.BAD_RESPONSE, f"More than {cap} records in one run.")
                if run_id is not None and time.monotonic() - last_progress >= PROGRESS_INTERVAL_SECONDS:
                    _report_progress(run_id=run_id, session=session, fetched=fetched)
                    last_progress = time.monotonic()
            if same_pages:
                _sort_same_pages(integration, model, order, outcome)
        return outcome
    except ProviderError as exc:
        request_log_blame_last(session=session, error_class=exc.error_class)
        return _Outcome(exc, {}, outcome.skipped)
    except SoftTimeLimitExceeded:
        return _Outcome(
            ProviderError(ErrorClass.TIME_LIMIT, "The sync ran past its time limit."), {}, outcome.skipped
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.exception("sync of %s failed on an unexpected provider answer", integration.slug)
        request_log_blame_last(session=session, error_class=ErrorClass.BAD_RESPONSE)
        return _Outcome(
            ProviderError(ErrorClass.BAD_RESPONSE, f"Unexpected provider answer ({type(exc).__name__})."),
            {},
            outcome.skipped,
        )


def _map_page(integration, model: str, page: list, *, into: list[dict[str, Any]]) -> int:
    """Map a page's records into `into`; returns how many could not be mapped."""
    skipped = 0
    map_record = integration.map_record
    for raw in page:
        try:
            into.append(map_record(model, raw))
        except RecordError:
            skipped += 1
    return skipped


def _sort_same_pages(integration, model: str, order: list, outcome: _Outcome) -> None:
    """Pages identical to the last stored run's: with every page of the model so, there is
    nothing to store; otherwise their records are present and unchanged (only their remote ids
    are needed), unless one of them also appears on a changed page: then every record is
    stored, in page order (the last of a remote id's records wins, as in a full pass)."""
    same_pages = [piece for piece in order if isinstance(piece, list)]
    if outcome.digests is not None and outcome.digests.all_same(model):
        outcome.unchanged[model] = same_pages
        return
    mapped = outcome.records[model]
    same: list[dict[str, Any]] = []
    for page in same_pages:
        outcome.skipped += _map_page(integration, model, page, into=same)
    by_id = {normalise_remote_id(record["remote_id"]): record for record in same}
    if not any(normalise_remote_id(record["remote_id"]) in by_id for record in mapped):
        outcome.present[model] = by_id
        return
    in_order: list[dict[str, Any]] = []
    for piece in order:
        if isinstance(piece, list):
            _map_page(integration, model, piece, into=in_order)
        else:
            in_order.extend(mapped[piece[0] : piece[1]])
    mapped[:] = in_order


def _finish(
    *,
    run: SyncRun,
    account: LinkedAccount,
    log: list[LoggedRequest],
    outcome: _Outcome,
    credentials_version: str,
) -> SyncRun | None:
    if outcome.error is not None:  # the failure path and its status rule: syncs/run_failure.py
        return sync_run_fail(
            run=run,
            account=account,
            log=log,
            error=outcome.error,
            skipped=outcome.skipped,
            credentials_version=credentials_version,
        )
    run = _finish_succeeded(run=run, account=account, log=log, outcome=outcome)
    if run is not None:
        sync_run_observe(
            integration=run.integration,
            result=run.status,
            seconds=(run.finished_at - run.started_at).total_seconds(),
        )
        provider_requests_observe(integration=run.integration, error_classes=[e.error_class for e in log])
    return run


def _finish_succeeded(
    *,
    run: SyncRun,
    account: LinkedAccount,
    log: list[LoggedRequest],
    outcome: _Outcome,
) -> SyncRun | None:
    now = timezone.now()
    failed = sum(1 for e in log if e.failed)
    with transaction.atomic():
        locked = run_account_lock(account.pk)
        if locked is None:
            return None  # deleted mid-run: its runs, logs and data are gone with it
        _check_unchanged(outcome, locked)
        counts = synced_records_store(
            account=locked,
            records=outcome.records,
            now=now,
            complete=not outcome.skipped,
            present=outcome.present,
            unchanged={model: sum(map(len, pages)) for model, pages in outcome.unchanged.items()},
        )
        status = SyncRunStatus.PARTIALLY_SYNCED if outcome.skipped else SyncRunStatus.DONE
        fields: dict[str, Any] = {
            "finished_at": now,
            "requests_total": len(log),
            "requests_failed": failed,
            "records_skipped": outcome.skipped,
            "model_counts": counts,
            **{f"records_{key}": sum(c[key] for c in counts.values()) for key in COUNT_KEYS},
            "status": status,
            # Only a complete run's pages describe what is stored.
            "page_digests": outcome.digests.to_store(_live_rows(outcome))
            if outcome.digests is not None and status == SyncRunStatus.DONE
            else None,
        }
        next_at = sync_next_time(account=locked, after=run.started_at)
        # Only the run that still holds its lease may report (the recovery job may have failed it).
        if not run_succeeded(run=run, account=locked, log=log, fields=fields, next_sync_at=next_at):
            transaction.set_rollback(True)
            return None
        for key, value in fields.items():
            setattr(run, key, value)
        status_before = locked.status
        linked_account_apply_status_rule(account=locked, run=run)
        if locked.status != status_before:  # e.g. RELINK_NEEDED -> COMPLETE: its own schedule
            next_at = sync_next_time(account=locked, after=run.started_at)
            LinkedAccount.objects.filter(pk=locked.pk).update(next_sync_at=next_at)
    return run


def _check_unchanged(outcome: _Outcome, account: LinkedAccount) -> None:
    """A model whose every page was identical is skipped only while the account still has
    as many live rows of it as the last stored run left; otherwise its pages are stored."""
    for model, pages in list(outcome.unchanged.items()):
        if live_rows(common_models.get(model), account) != outcome.digests.previous_rows.get(model):
            del outcome.unchanged[model]
            for page in pages:
                outcome.skipped += _map_page(outcome.integration, model, page, into=outcome.records[model])


def _live_rows(outcome: _Outcome) -> dict[str, int]:
    """Per model, the live rows a complete run leaves: every record it saw, once."""
    rows = {model: outcome.digests.previous_rows[model] for model in outcome.unchanged}
    for model, records in outcome.records.items():
        if model not in outcome.unchanged:
            ids = {normalise_remote_id(record["remote_id"]) for record in records}
            rows[model] = len(ids) + len(outcome.present.get(model, ()))
    return rows
