"""The Relink Needed rule for a sync run that succeeded: what it means for its linked account's
status, its issues and the `LinkedAccount.sync_completed` webhook. Called by the sync run
(syncs/runs.py) inside the run's transaction; a failed run's half of the rule is
`syncs/run_failure.py` (`linked_account_apply_failure_rule`)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef

from accounts.models import LinkedAccount, LinkedAccountStatus
from accounts.selectors import linked_account_details
from accounts.services import linked_account_mark_complete
from accounts.timefmt import api_datetime
from issues.models import Issue, IssueStatus, WebhookEndpoint, WebhookEvent
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
    if getattr(account, "has_open_issues", True):
        issues_resolve_for_account(account=account, reason="A sync succeeded")
    forced = run.trigger == SyncTrigger.FORCED
    if account.status == LinkedAccountStatus.RELINK_NEEDED or (
        forced and account.status == LinkedAccountStatus.IDLE
    ):
        linked_account_mark_complete(account=account, reason="A sync succeeded")
    if getattr(account, "has_webhook_endpoints", True):
        webhook_event_emit(
            organization=account.organization,
            event=WebhookEvent.SYNC_COMPLETED,
            account_details=linked_account_details(account=account),
            data=_sync_completed_data(account=account, run=run),
        )


def status_rule_hints() -> dict[str, Exists]:
    """Annotations for the locked account row the rule is applied to (read in the same
    statement): whether it has open issues and its organization any enabled webhook endpoint.
    A success with neither reads nothing more; an account without them is read as having both."""
    return {
        "has_open_issues": Exists(
            Issue.objects.filter(linked_account_id=OuterRef("pk"), status=IssueStatus.ONGOING)
        ),
        "has_webhook_endpoints": Exists(
            WebhookEndpoint.objects.filter(organization_id=OuterRef("organization_id"), enabled=True)
        ),
    }


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
