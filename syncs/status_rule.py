"""The Relink Needed rule for a sync run that succeeded: what it means for its linked account's
status, its issues and the `LinkedAccount.sync_completed` webhook. Called by the sync run
(syncs/runs.py) inside the run's transaction; a failed run's half of the rule is
`syncs/run_failure.py` (`linked_account_apply_failure_rule`)."""

from __future__ import annotations

from typing import Any

from accounts.models import LinkedAccount, LinkedAccountStatus
from accounts.selectors import linked_account_details
from accounts.services import linked_account_mark_complete
from accounts.timefmt import api_datetime
from issues.models import WebhookEvent
from issues.services import issues_resolve_for_account
from issues.webhooks.events import webhook_event_emit

from . import common_models
from .models import SyncRun, SyncTrigger


def linked_account_apply_status_rule(*, account: LinkedAccount, run: SyncRun) -> None:
    """The Relink Needed rule for a run that succeeded, applied inside the run's transaction
    (the account row is locked); a failed run's half is `syncs/run_failure.py`.

    The product's rule: a linked account is Relink Needed "when it has an open 'Invalid API key'
    issue or when every outbound request of its latest sync failed". So a run that succeeded
    resolves the account's open issues, brings a RELINK_NEEDED account (or, when forced, an
    IDLE one) back to COMPLETE, and announces `LinkedAccount.sync_completed`.
    """
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


def _sync_completed_data(*, account: LinkedAccount, run: SyncRun) -> dict[str, Any]:
    return {
        "integration_name": account.integration,
        "sync_run_id": str(run.pk),
        "result": run.status,
        "last_sync_start": api_datetime(run.started_at),
        "last_sync_finished": api_datetime(run.finished_at),
        "models": [
            {
                "model_name": model.name,
                "model_id": model.model_id,
                **{
                    f"records_{key}": run.model_counts.get(model.model_id, {}).get(key, 0)
                    for key in ("created", "updated", "deleted")
                },
            }
            for model in common_models.for_category(account.category)
        ],
    }
