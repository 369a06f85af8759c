"""Reads of the syncs app: sync status per common model, synced data, runs and request logs."""

from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import LinkedAccount, LinkedAccountStatus, Organization, SyncFrequency
from accounts.row_reader import RowReader
from accounts.timefmt import api_datetime

from . import common_models
from .common_models import CommonModel
from .models import CommonModelRow, SyncRun, SyncRunStatus

_iso = api_datetime


_SUCCEEDED = (SyncRunStatus.DONE, SyncRunStatus.PARTIALLY_SYNCED)


class _RunDates(NamedTuple):
    status: str
    started_at: datetime
    finished_at: datetime | None


_organizations = RowReader(Organization)


def _organization_default_frequency(account: LinkedAccount) -> str:
    """The organization's default sync frequency, read afresh (the API's organization is an id
    only: accounts/authentication.py), without compiling a queryset (accounts/row_reader.py)."""
    if LinkedAccount.organization.is_cached(account):
        organization = account.organization
        if "default_sync_frequency" in organization.__dict__:
            return organization.default_sync_frequency
    return _organizations.first(id=account.organization_id).default_sync_frequency


def sync_status_rows(*, account: LinkedAccount) -> list[dict[str, Any]]:
    """One row per synced model, in Merge's SyncStatus shape."""
    models = common_models.for_category(account.category)
    if not models:
        return []
    runs = SyncRun.objects.filter(linked_account=account).order_by("-started_at")
    # An account has at most one RUNNING run (a unique constraint), so its last finished run is
    # one of its latest two; older runs are read only to learn whether any ever succeeded.
    recent = [_RunDates(*row) for row in runs.values_list("status", "started_at", "finished_at")[:2]]
    latest = recent[0] if recent else None
    last_finished = next((r for r in recent if r.status != SyncRunStatus.RUNNING), None)
    ever_succeeded = any(r.status in _SUCCEEDED for r in recent) or (
        len(recent) == 2 and runs.filter(status__in=_SUCCEEDED).exists()
    )
    frequency = account.sync_frequency or _organization_default_frequency(account)
    if account.status == LinkedAccountStatus.RELINK_NEEDED:
        status = "PAUSED"
    elif latest is not None and latest.status == SyncRunStatus.RUNNING:
        status = "SYNCING"
    elif account.status == LinkedAccountStatus.INCOMPLETE or (
        frequency == SyncFrequency.MANUAL and last_finished is None
    ):
        status = "DISABLED"
    elif last_finished is not None:
        status = last_finished.status
    else:
        status = "DISABLED" if account.next_sync_at is None else "SYNCING"
    # Merge types next_sync_start as a date-time, never null. With no sync scheduled (paused
    # until a relink, not linked yet, manual frequency) the earliest one can start is now: a
    # relink, a finished link or a resync queues it at once.
    next_start = account.next_sync_at
    if next_start is None or account.status == LinkedAccountStatus.RELINK_NEEDED:
        next_start = timezone.now()
    return [
        {
            "model_name": model.name,
            "model_id": model.model_id,
            "last_sync_start": _iso(latest.started_at) if latest else None,
            "next_sync_start": _iso(next_start),
            "last_sync_result": last_finished.status if last_finished else None,
            "last_sync_finished": _iso(last_finished.finished_at) if last_finished else None,
            "status": status,
            "is_initial_sync": not ever_succeeded,
        }
        for model in models
    ]


# What an API answer of a common model reads: every column but the account (the caller's) and
# the sync's digest.
_NOT_ANSWERED = frozenset({"linked_account_id", "content_hash"})


def api_columns(model: CommonModel) -> tuple[str, ...]:
    return tuple(f.attname for f in model.table._meta.concrete_fields if f.attname not in _NOT_ANSWERED)


def common_model_rows(
    *,
    account: LinkedAccount,
    model: CommonModel,
    include_deleted: bool = False,
    filters: dict[str, Any] | None = None,
) -> QuerySet:
    """The account's synced records of one common model (what its last successful sync wrote),
    as named tuples of the columns an API answer shows (`api_columns`: a page of model instances
    cost a third more CPU time, and the writers of syncs/serializers.py read attributes either
    way); `filters` are ORM lookups from the endpoint's declared query parameters
    (`syncs.filters`)."""
    qs = model.table.objects.filter(linked_account=account, **(filters or {}))
    if not include_deleted:
        qs = qs.filter(remote_was_deleted=False)
    return qs.values_list(*api_columns(model), named=True)


_row_readers: dict[type, RowReader] = {}


def common_model_row(*, account: LinkedAccount, model: CommonModel, row_id) -> CommonModelRow | None:
    reader = _row_readers.get(model.table)
    if reader is None:
        reader = _row_readers[model.table] = RowReader(model.table)
    return reader.first(id=row_id, linked_account=account.pk)


def sync_runs_for_account(*, account: LinkedAccount, limit: int = 50) -> list[SyncRun]:
    return list(SyncRun.objects.filter(linked_account=account).order_by("-started_at")[:limit])
