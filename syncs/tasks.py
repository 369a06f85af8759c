"""Celery tasks of the syncs app: each takes ids, loads, and calls one service."""

import logging

from celery import shared_task
from django.conf import settings

from . import dispatch, idle, oauth_grants, request_logs, runs

logger = logging.getLogger(__name__)

# A forced sync that finds a run going waits for it (a relink must not be lost).
ALREADY_RUNNING_RETRY_SECONDS = 5
ALREADY_RUNNING_MAX_RETRIES = 60


@shared_task(
    bind=True,
    name="syncs.sync_account",
    soft_time_limit=settings.SYNC_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.SYNC_TASK_TIME_LIMIT,
    max_retries=ALREADY_RUNNING_MAX_RETRIES,
)
def sync_account(self, account_id: str, trigger: str = "schedule", reason: str = "") -> str | None:
    try:
        run = runs.sync_run_account(account_id=account_id, trigger=trigger, reason=reason)
    except runs.SyncAlreadyRunning:
        if trigger == "schedule":
            return None  # the running one is this schedule's sync
        raise self.retry(countdown=ALREADY_RUNNING_RETRY_SECONDS)
    return run.status if run else None


@shared_task(name="syncs.sync_accounts_batch", soft_time_limit=60, time_limit=90)
def sync_accounts_batch(account_ids: list[str]) -> int:
    return dispatch.sync_batch_expand(account_ids=account_ids)


@shared_task(name="syncs.dispatch_due_syncs", soft_time_limit=30, time_limit=45, expires=30)
def dispatch_due_syncs() -> int:
    return dispatch.sync_dispatch_due()


@shared_task(name="syncs.recover_expired_runs", soft_time_limit=60, time_limit=90, expires=120)
def recover_expired_runs() -> int:
    return dispatch.sync_runs_recover_expired()


@shared_task(name="syncs.prune_request_logs", soft_time_limit=600, time_limit=660, expires=3600)
def prune_request_logs() -> int:
    return request_logs.request_logs_prune()


@shared_task(name="syncs.mark_idle_accounts", soft_time_limit=300, time_limit=330, expires=3600)
def mark_idle_accounts() -> int:
    return idle.linked_accounts_mark_idle()


# --- OAuth grants ------------------------------------------------------------------------------------
@shared_task(name="syncs.oauth_keep_alive", soft_time_limit=60, time_limit=90, expires=3600)
def oauth_keep_alive() -> int:
    return oauth_grants.oauth_keep_alive_dispatch()


@shared_task(name="syncs.oauth_keep_alive_account", soft_time_limit=60, time_limit=90)
def oauth_keep_alive_account(account_id: str) -> bool:
    return oauth_grants.oauth_account_keep_alive(account_id=account_id) is not None


@shared_task(name="syncs.validate_account_credentials", soft_time_limit=60, time_limit=90)
def validate_account_credentials(account_id: str) -> bool | None:
    result = oauth_grants.oauth_account_validate(account_id=account_id)
    return None if result is None else result.ok
