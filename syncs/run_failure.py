"""The finish of a failed sync run, and the failure half of the Relink Needed rule (the success
half is `syncs/status_rule.py`). `syncs/runs.py` hands a run whose fetch failed to
`sync_run_fail`, which writes everything in one transaction, with the account's row locked once:
the request logs, the run's result (no data: the records of the last good sync stay), the issue
of its error class and its `Issue.*` webhook, the move to RELINK_NEEDED with its status-history
row and `LinkedAccount.status_changed` webhooks (announced here, in the same transaction, not
by the outbox after the commit), and the next scheduled time.

This is the path that decides how soon a revoked credential is seen (the `syncs_detection`
bench), so it reads the organization's webhook endpoints once for every event it emits and
never re-reads or re-locks a row it already holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import LinkedAccount, LinkedAccountStatusChange
from accounts.services import linked_account_mark_relink_needed
from issues.models import ErrorDescription
from issues.services import issue_record_failure
from issues.webhooks.events import webhook_endpoints_once
from issues.webhooks.outbox import status_change_emit

from .dispatch import SCHEDULABLE, sync_dispatch_release, sync_next_time
from .integrations.base import ErrorClass, LoggedRequest, ProviderError
from .metrics import provider_requests_observe, sync_run_observe
from .models import SyncRun, SyncRunStatus
from .request_logs import request_logs_write

# The issue a provider error opens (or updates); the error classes not named here open none.
ERROR_DESCRIPTION: dict[str, str] = {
    ErrorClass.CREDENTIALS_REJECTED: ErrorDescription.INVALID_API_KEY,
    ErrorClass.MISSING_PERMISSIONS: ErrorDescription.MISSING_PERMISSIONS,
    ErrorClass.RATE_LIMITED: ErrorDescription.RATE_LIMITED,
    ErrorClass.PROVIDER_OFFLINE: ErrorDescription.THIRD_PARTY_OFFLINE,
}


def sync_run_fail(
    *,
    run: SyncRun,
    account: LinkedAccount,
    log: list[LoggedRequest],
    error: ProviderError,
    skipped: int,
    credentials_version: str,
) -> SyncRun | None:
    """Finish `run`, whose fetch failed with `error`, in one transaction (see the module
    docstring). Returns None when the account was deleted mid-run or the run lost its lease
    (the recovery job failed it): then nothing is written."""
    now = timezone.now()
    failed = sum(1 for e in log if e.failed)
    fields = {
        "finished_at": now,
        "requests_total": len(log),
        "requests_failed": failed,
        "records_skipped": skipped,
        "status": SyncRunStatus.FAILED,
        "error_class": error.error_class,
        "error_message": str(error)[:500],
    }
    with transaction.atomic():
        # The account row only (of=self): also locking the joined organization row would make
        # every finishing sync of an organization wait in line.
        locked = (
            LinkedAccount.objects.select_related("organization")
            .select_for_update(of=("self",))
            .filter(pk=account.pk)
            .first()
        )
        if locked is None:
            return None  # deleted mid-run: its runs, logs and data are gone with it
        request_logs_write(entries=log, integration=run.integration, account=locked, run=run)
        # A run that used credentials since replaced by a relink says nothing about the new ones.
        if locked.credentials_encrypted == credentials_version:
            linked_account_apply_failure_rule(
                account=locked, error=error, all_failed=bool(log) and failed == len(log)
            )
        next_at = sync_next_time(account=locked, after=run.started_at)
        if not _run_report(run_id=run.pk, account_id=locked.pk, fields=fields, next_at=next_at):
            transaction.set_rollback(True)  # the recovery job failed the run: it is not ours to report
            return None
    for key, value in fields.items():
        setattr(run, key, value)
    sync_run_observe(
        integration=run.integration, result=run.status, seconds=(now - run.started_at).total_seconds()
    )
    provider_requests_observe(integration=run.integration, error_classes=[e.error_class for e in log])
    return run


# The run's result, the account's next time and the dispatch row's release in one round trip,
# if and only if the run still holds its lease (still RUNNING).
_REPORT_SQL = """
WITH run AS (
    UPDATE syncs_syncrun
       SET finished_at = %(finished_at)s, requests_total = %(requests_total)s,
           requests_failed = %(requests_failed)s, records_skipped = %(records_skipped)s,
           status = %(status)s, error_class = %(error_class)s, error_message = %(error_message)s
     WHERE id = %(run)s AND status = 'RUNNING'
    RETURNING id
), account AS (
    UPDATE accounts_linkedaccount SET next_sync_at = %(next_at)s
     WHERE id = %(account)s AND EXISTS (SELECT 1 FROM run)
), released AS (
    DELETE FROM syncs_syncdispatch WHERE linked_account_id = %(account)s AND EXISTS (SELECT 1 FROM run)
)
SELECT count(*) FROM run
"""


def _run_report(*, run_id, account_id, fields: dict[str, Any], next_at: datetime | None) -> bool:
    """Write the failed run's result (if it still holds its lease), the account's next
    scheduled time and release its dispatch row. False: the run had lost its lease."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_REPORT_SQL, {**fields, "run": run_id, "account": account_id, "next_at": next_at})
            return cursor.fetchone()[0] == 1
    if not SyncRun.objects.filter(pk=run_id, status=SyncRunStatus.RUNNING).update(**fields):
        return False
    LinkedAccount.objects.filter(pk=account_id).update(next_sync_at=next_at)
    sync_dispatch_release(account_ids=[account_id])
    return True


def linked_account_apply_failure_rule(
    *, account: LinkedAccount, error: ProviderError, all_failed: bool
) -> None:
    """The Relink Needed rule for a failed run, inside its transaction (the account row is
    locked and `account` is that row).

    The product's rule: a linked account is Relink Needed "when it has an open 'Invalid API key'
    issue or when every outbound request of its latest sync failed" (an open 'Missing
    permissions' issue counts as the first condition too). So a failed run opens or updates the
    issue of its error class (`Invalid API key`, `Missing permissions`, `Rate limited`,
    `Third-party offline`), and a rejected credential or a run whose requests all failed
    (`all_failed`) moves a COMPLETE or IDLE account to RELINK_NEEDED, which pauses its
    scheduled syncs."""
    endpoints = webhook_endpoints_once(account.organization)
    description = ERROR_DESCRIPTION.get(error.error_class)
    if description:
        issue_record_failure(
            account=account,
            error_description=description,
            detail=str(error),
            account_locked=True,
            endpoints=endpoints,
        )
    credential_error = error.error_class in (ErrorClass.CREDENTIALS_REJECTED, ErrorClass.MISSING_PERMISSIONS)
    if account.status in SCHEDULABLE and (credential_error or all_failed):
        cause = description or error.error_class
        if credential_error:
            reason = f"{cause}: the provider rejected the credentials"
        else:
            reason = f"Every request of the latest sync failed ({cause})"

        def announce(change: LinkedAccountStatusChange) -> None:
            change.organization = account.organization  # loaded with the locked row
            status_change_emit(change=change, endpoints=endpoints)

        linked_account_mark_relink_needed(account=account, reason=reason, locked=True, announce=announce)
