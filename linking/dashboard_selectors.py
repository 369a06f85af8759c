"""Reads for the dashboard's Linked accounts pages. `linking` is the top floor, so these may read
every app's models; each function is one query (or a fixed few), whatever the rows."""

import uuid
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from accounts.models import LinkedAccount, LinkedAccountStatusChange, Organization
from syncs.models import Employee, RequestLog, SyncRun, SyncRunStatus

SORTS = {
    # name: (column, descending)
    # Keyset on (created_at, id): with the environment filter, an index range scan at any depth.
    "newest": ("created_at", True),
    "oldest": ("created_at", False),
    "name": ("end_user_organization_name", False),
    "-name": ("end_user_organization_name", True),
    "origin": ("end_user_origin_id", False),
    "-origin": ("end_user_origin_id", True),
    "status": ("status", False),
    "-status": ("status", True),
    "integration": ("integration", False),
    "-integration": ("integration", True),
}


def linked_accounts_filtered(
    *,
    organization: Organization,
    account_type: str | None = None,
    status: str | None = None,
    integration: str | None = None,
    category: str | None = None,
    search: str | None = None,
) -> QuerySet[LinkedAccount]:
    qs = LinkedAccount.objects.filter(organization=organization)
    if account_type:
        qs = qs.filter(account_type=account_type)
    if status:
        qs = qs.filter(status=status)
    if integration:
        qs = qs.filter(integration=integration)
    if category:
        qs = qs.filter(category=category)
    if search:
        qs = qs.filter(
            Q(end_user_origin_id__icontains=search)
            | Q(end_user_organization_name__icontains=search)
            | Q(end_user_email_address__icontains=search)
        )
    return qs.defer("account_token_encrypted", "credentials_encrypted", "account_token_hash")


def linked_account_status_counts(*, queryset: QuerySet[LinkedAccount]) -> dict[str, int]:
    return {row["status"]: row["n"] for row in queryset.order_by().values("status").annotate(n=Count("id"))}


def running_syncs_for_accounts(*, account_ids: list[uuid.UUID]) -> dict[uuid.UUID, SyncRun]:
    if not account_ids:
        return {}
    return {
        run.linked_account_id: run
        for run in SyncRun.objects.filter(linked_account_id__in=account_ids, status=SyncRunStatus.RUNNING)
    }


def running_sync_for_account(*, account: LinkedAccount) -> SyncRun | None:
    return SyncRun.objects.filter(linked_account=account, status=SyncRunStatus.RUNNING).first()


def linked_account_for_organization(
    *, organization: Organization, account_id: uuid.UUID
) -> LinkedAccount | None:
    return LinkedAccount.objects.filter(organization=organization, pk=account_id).first()


def status_history_for_account(*, account: LinkedAccount, limit: int = 50) -> list[LinkedAccountStatusChange]:
    rows = list(
        LinkedAccountStatusChange.objects.filter(linked_account_uuid=account.id)
        .only("from_status", "to_status", "reason", "at")
        .order_by("-at", "-id")[:limit]
    )
    return rows


def sync_runs_for_account(*, account: LinkedAccount, limit: int = 20) -> list[SyncRun]:
    return list(SyncRun.objects.filter(linked_account=account).order_by("-started_at")[:limit])


def request_logs_for_runs(*, runs: list[SyncRun], per_run: int = 50) -> dict[uuid.UUID, list[RequestLog]]:
    """The request logs of these runs, at most `per_run` each (one query)."""
    if not runs:
        return {}
    logs: dict[uuid.UUID, list[RequestLog]] = {run.id: [] for run in runs}
    qs = (
        RequestLog.objects.filter(sync_run_id__in=list(logs))
        .annotate(n=Window(RowNumber(), partition_by=F("sync_run_id"), order_by=F("id").asc()))
        .filter(n__lte=per_run)
        .order_by("sync_run_id", "id")
    )
    for log in qs:
        logs[log.sync_run_id].append(log)
    return logs


def synced_data_counts(*, account: LinkedAccount) -> dict[str, Any]:
    return Employee.objects.filter(linked_account=account).aggregate(
        employees=Count("id", filter=Q(remote_was_deleted=False)),
        employees_deleted=Count("id", filter=Q(remote_was_deleted=True)),
    )
