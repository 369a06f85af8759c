"""Writes for issues: `issue_record_failure` (open / repeat / reopen), `issues_resolve_for_account`,
`issue_mute` / `issue_unmute`. Each change an integrator should hear about emits an Issue.*
webhook event (issues.webhooks.events)."""

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import LinkedAccount
from accounts.selectors import linked_account_details

from .failure_upsert import issue_failure_upsert
from .models import (
    ErrorDescription,
    Issue,
    IssueStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from .selectors import issue_as_api
from .webhooks.events import webhook_event_emit

logger = logging.getLogger(__name__)

ERROR_DETAIL_MAX_CHARS = 500


def _append_detail(details: list[str], detail: str) -> list[str]:
    limit = max(1, settings.ISSUE_ERROR_DETAILS_MAX)
    details = [*details, detail[:ERROR_DETAIL_MAX_CHARS]]
    return details[-limit:]


def issue_record_failure(
    *,
    account: LinkedAccount,
    error_description: str,
    detail: str,
    account_locked: bool = False,
    endpoints: Callable[[], list[WebhookEndpoint]] | None = None,
) -> Issue:
    """A failure of `account`: opens an issue (Issue.new), updates the ONGOING one (a repeat:
    last_incident_time, occurrences, error_details), or reopens the latest RESOLVED one
    (Issue.reopened). A muted issue is updated quietly. Runs inside the caller's transaction.

    `account_locked`: the caller's open transaction already holds the account's row lock (a
    failing sync's finish). `endpoints`: see `webhook_event_emit`."""
    error_description = ErrorDescription(error_description).value  # ValueError on unknown values
    with transaction.atomic(savepoint=False):
        if not account_locked:
            # One writer per account at a time, so two failures never open two ONGOING issues.
            LinkedAccount.objects.select_for_update().filter(pk=account.pk).values_list("pk").first()
        now = timezone.now()
        if connection.vendor == "postgresql":
            issue, outcome = issue_failure_upsert(
                account=account,
                error_description=error_description,
                detail=detail[:ERROR_DETAIL_MAX_CHARS],
                now=now,
            )
        else:
            issue, outcome = _record_failure_orm(
                account=account, error_description=error_description, detail=detail, now=now
            )
        if outcome != "repeat" and not issue.is_muted:
            event = WebhookEvent.ISSUE_NEW if outcome == "new" else WebhookEvent.ISSUE_REOPENED
            _emit_issue_event(issue=issue, account=account, event=event, endpoints=endpoints)
    return issue


def _record_failure_orm(
    *, account: LinkedAccount, error_description: str, detail: str, now: datetime
) -> tuple[Issue, str]:
    """`issue_failure_upsert` (issues/failure_upsert.py) for databases other than PostgreSQL."""
    issue = (
        Issue.objects.select_for_update()
        .filter(linked_account=account, error_description=error_description)
        .order_by("status", "-id")  # the ONGOING one, else the latest RESOLVED one
        .first()
    )
    if issue is not None and issue.status == IssueStatus.ONGOING:
        issue.last_incident_time = now
        issue.occurrences += 1
        issue.error_details = _append_detail(issue.error_details, detail)
        issue.save(update_fields=["last_incident_time", "occurrences", "error_details"])
        return issue, "repeat"
    if issue is not None:
        issue.status = IssueStatus.ONGOING
        issue.last_incident_time = now
        issue.occurrences += 1
        issue.error_details = _append_detail(issue.error_details, detail)
        issue.resolved_at = None
        issue.resolution_reason = ""
        issue.reopened_count += 1
        issue.save()
        return issue, "reopened"
    issue = Issue.objects.create(
        organization_id=account.organization_id,
        linked_account=account,
        account_type=account.account_type,
        error_description=error_description,
        first_incident_time=now,
        last_incident_time=now,
        error_details=_append_detail([], detail),
    )
    return issue, "new"


def issues_resolve_for_account(
    *, account: LinkedAccount, reason: str, error_descriptions: Iterable[str] | None = None
) -> int:
    """Resolve the account's ONGOING issues (all, or those with these descriptions); each fires
    Issue.resolved (unless muted). Returns how many were resolved."""
    now = timezone.now()
    with transaction.atomic():
        qs = Issue.objects.select_for_update().filter(linked_account=account, status=IssueStatus.ONGOING)
        if error_descriptions is not None:
            qs = qs.filter(error_description__in=[ErrorDescription(d).value for d in error_descriptions])
        issues = list(qs.order_by("id"))
        for issue in issues:
            issue.status = IssueStatus.RESOLVED
            issue.resolved_at = now
            issue.resolution_reason = reason[:300]
            issue.save(update_fields=["status", "resolved_at", "resolution_reason"])
            if not issue.is_muted:
                _emit_issue_event(issue=issue, account=account, event=WebhookEvent.ISSUE_RESOLVED)
    return len(issues)


def issue_mute(*, issue: Issue, muted_by: str = "") -> Issue:
    """Mute an issue: left out of GET /issues by default, no more Issue.* events but this one."""
    with transaction.atomic():
        updated = Issue.objects.filter(pk=issue.pk, is_muted=False).update(
            is_muted=True, muted_at=timezone.now(), muted_by=muted_by[:150]
        )
        issue.refresh_from_db()
        if updated:
            _emit_issue_event(issue=issue, account=issue.linked_account, event=WebhookEvent.ISSUE_MUTED)
    return issue


def issue_unmute(*, issue: Issue) -> Issue:
    Issue.objects.filter(pk=issue.pk).update(is_muted=False, muted_at=None, muted_by="")
    issue.refresh_from_db()
    return issue


def _emit_issue_event(
    *,
    issue: Issue,
    account: LinkedAccount,
    event: WebhookEvent,
    endpoints: Callable[[], list[WebhookEndpoint]] | None = None,
) -> None:
    webhook_event_emit(
        organization=account.organization,
        event=event,
        account_details=linked_account_details(account=account),
        data=issue_as_api(issue=issue, account=account),
        endpoints=endpoints,
    )
