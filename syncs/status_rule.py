"""The Relink Needed rule: what one finished sync run means for its linked account's status,
its issues and the `LinkedAccount.sync_completed` webhook. Called by the sync run (syncs/runs.py)
inside the run's transaction; the one place the rule lives."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef

from accounts.models import LinkedAccount, LinkedAccountStatus
from accounts.selectors import linked_account_details
from accounts.services import linked_account_mark_complete, linked_account_mark_relink_needed
from accounts.timefmt import api_datetime
from issues.models import ErrorDescription, Issue, IssueStatus, WebhookEndpoint, WebhookEvent
from issues.services import issue_record_failure, issues_resolve_for_account
from issues.webhooks.events import webhook_event_emit

from . import common_models
from .dispatch import SCHEDULABLE
from .integrations.base import ErrorClass, ProviderError
from .models import SyncRun, SyncTrigger

# The issue a provider error opens (or updates); the error classes not named here open none.
ERROR_DESCRIPTION: dict[str, str] = {
    ErrorClass.CREDENTIALS_REJECTED: ErrorDescription.INVALID_API_KEY,
    ErrorClass.MISSING_PERMISSIONS: ErrorDescription.MISSING_PERMISSIONS,
    ErrorClass.RATE_LIMITED: ErrorDescription.RATE_LIMITED,
    ErrorClass.PROVIDER_OFFLINE: ErrorDescription.THIRD_PARTY_OFFLINE,
}


def linked_account_apply_status_rule(
    *, account: LinkedAccount, run: SyncRun, error: ProviderError | None, all_failed: bool, superseded: bool
) -> None:
    """The Relink Needed rule, applied when a sync run finishes, inside the run's transaction
    (the account row is locked).

    The product's rule: a linked account is Relink Needed "when it has an open 'Invalid API key'
    issue or when every outbound request of its latest sync failed" (an open 'Missing
    permissions' issue counts as the first condition too). So:

    - a failed run opens or updates the issue of its error class (`Invalid API key`,
      `Missing permissions`, `Rate limited`, `Third-party offline`); a rejected credential or
      a run whose requests (`all_failed`) all failed moves a COMPLETE or IDLE account to
      RELINK_NEEDED, which pauses its scheduled syncs;
    - a run that succeeded resolves the account's open issues, brings a RELINK_NEEDED account
      (or, when forced, an IDLE one) back to COMPLETE, and announces
      `LinkedAccount.sync_completed`;
    - a failed run that used credentials since replaced by a relink (`superseded`) changes
      nothing: it says nothing about the new ones.
    """
    if error is None:
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
