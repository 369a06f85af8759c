"""Reads for the sync parts of the dashboard: the running-sync badges of the Linked accounts list
and an account page's sync panel (runs, their request logs, synced record counts). One query
each (or a fixed few), whatever the rows."""

import uuid
from dataclasses import dataclass

from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber

from accounts.models import LinkedAccount, Organization

from . import common_models
from .models import RequestLog, SyncRun, SyncRunStatus


@dataclass(frozen=True)
class SyncedCount:
    name: str
    name_plural: str
    current: int
    deleted: int


def running_syncs_for_accounts(
    *, account_ids: list[uuid.UUID], organization: Organization
) -> dict[uuid.UUID, SyncRun]:
    """The running sync of each of these accounts that has one (another organization's: none)."""
    if not account_ids:
        return {}
    runs = SyncRun.objects.filter(
        organization=organization, linked_account_id__in=account_ids, status=SyncRunStatus.RUNNING
    )
    return {run.linked_account_id: run for run in runs}


def running_sync_for_account(*, account: LinkedAccount) -> SyncRun | None:
    return SyncRun.objects.filter(linked_account=account, status=SyncRunStatus.RUNNING).first()


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


def synced_counts_for_account(*, account: LinkedAccount) -> list[SyncedCount]:
    """Per common model of the account's category (the registry, syncs/common_models.py), its
    current records and those deleted upstream (one query per model)."""
    counts = []
    for common in common_models.for_category(account.category):
        row = common.table.objects.filter(linked_account=account).aggregate(
            current=Count("id", filter=Q(remote_was_deleted=False)),
            deleted=Count("id", filter=Q(remote_was_deleted=True)),
        )
        meta = common.table._meta
        counts.append(SyncedCount(str(meta.verbose_name), str(meta.verbose_name_plural), **row))
    return counts
