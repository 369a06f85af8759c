"""Reads for the Linked accounts list and an account page's frame (the account's details, status
and history). Other apps' parts of the account page (sync runs, issues, relink e-mails) are their
own panels and read their own models; each function here is one query, whatever the rows."""

import uuid

from django.db.models import Count, Q, QuerySet

from .models import LinkedAccount, LinkedAccountStatusChange, Organization
from .selectors import filter_given

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
    qs = filter_given(
        LinkedAccount.objects.filter(organization=organization),
        account_type=account_type,
        status=status,
        integration=integration,
        category=category,
    )
    if search:
        qs = qs.filter(
            Q(end_user_origin_id__icontains=search)
            | Q(end_user_organization_name__icontains=search)
            | Q(end_user_email_address__icontains=search)
        )
    return qs.defer("account_token_encrypted", "credentials_encrypted", "account_token_hash")


def linked_account_status_counts(*, queryset: QuerySet[LinkedAccount]) -> dict[str, int]:
    return {row["status"]: row["n"] for row in queryset.order_by().values("status").annotate(n=Count("id"))}


def linked_account_for_organization(
    *, organization: Organization, account_id: uuid.UUID
) -> LinkedAccount | None:
    return LinkedAccount.objects.filter(organization=organization, pk=account_id).first()


def status_history_for_account(*, account: LinkedAccount, limit: int = 50) -> list[LinkedAccountStatusChange]:
    return list(
        LinkedAccountStatusChange.objects.filter(linked_account_uuid=account.id)
        .only("from_status", "to_status", "reason", "at")
        .order_by("-at", "-id")[:limit]
    )
