"""Reads of the accounts app: API keys, linked accounts and their details, organizations. Billing
and the status chart are in accounts/billing.py."""

import uuid
from typing import Any

from django.db.models import Count, QuerySet

from . import catalog
from .crypto import constant_time_equals, decrypt_json, decrypt_str, token_hash
from .models import AccountType, ApiKey, LinkedAccount, Organization
from .row_reader import RowReader
from .timefmt import api_datetime


def filter_given(queryset: QuerySet, **lookups: Any) -> QuerySet:
    """`queryset` narrowed by each lookup whose value was given (not None or empty): the optional
    filters of a list, e.g. `filter_given(qs, status=status, integration=integration)`."""
    given = {lookup: value for lookup, value in lookups.items() if value not in (None, "")}
    return queryset.filter(**given) if given else queryset


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    digest = token_hash(raw_key)
    key = (
        ApiKey.objects.select_related("organization").filter(key_hash=digest, revoked_at__isnull=True).first()
    )
    if key is None or not constant_time_equals(key.key_hash, digest):
        return None
    return key


# Every per-account API request reads its account by token: see accounts/row_reader.py.
_accounts = RowReader(LinkedAccount)


def linked_account_for_token(
    *, raw_token: str, organization: Organization, account_type: str
) -> LinkedAccount | None:
    """The account behind an X-Account-Token, only within the key's organization and environment."""
    digest = token_hash(raw_token)
    account = _accounts.first(
        account_token_hash=digest, organization=organization.pk, account_type=account_type
    )
    if account is None or not constant_time_equals(account.account_token_hash, digest):
        return None
    return account


def linked_account_token(*, account: LinkedAccount) -> str:
    return decrypt_str(account.account_token_encrypted)


def linked_account_tokens(*, account_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Current account tokens by account id, decrypted (for a webhook sent with one)."""
    rows = LinkedAccount.objects.filter(pk__in=account_ids).values_list("id", "account_token_encrypted")
    return {account_id: decrypt_str(encrypted) for account_id, encrypted in rows}


def linked_account_credentials(*, account: LinkedAccount) -> dict[str, Any]:
    if not account.credentials_encrypted:
        return {}
    return decrypt_json(account.credentials_encrypted)


def linked_account_find_by_origin(
    *, organization: Organization, account_type: str, category: str, end_user_origin_id: str
) -> LinkedAccount | None:
    return LinkedAccount.objects.filter(
        organization=organization,
        account_type=account_type,
        category=category,
        end_user_origin_id=end_user_origin_id,
    ).first()


_iso = api_datetime


def linked_account_details(*, account: LinkedAccount) -> dict[str, Any]:
    """The contract's account-details fields: the API response and every webhook's `linked_account`."""
    info = catalog.get(account.integration)
    details = {
        "id": str(account.id),
        "integration": info.name,
        "integration_slug": account.integration,
        "category": account.category,
        "end_user_origin_id": account.end_user_origin_id,
        "end_user_organization_name": account.end_user_organization_name,
        "end_user_email_address": account.end_user_email_address,
        "status": account.status,
        "is_duplicate": account.is_duplicate,
        "account_type": account.account_type,
        "completed_at": _iso(account.completed_at),
    }
    if account.webhook_listener_url:  # a URL or absent, never ""
        details["webhook_listener_url"] = account.webhook_listener_url
    return details


_EXACT_FILTERS = (
    "status",
    "end_user_origin_id",
    "end_user_email_address",
    "end_user_organization_name",
    "id",
    "category",
)


def linked_accounts_for_environment(
    *, organization: Organization, account_type: str, filters: dict[str, Any] | None = None
) -> QuerySet[LinkedAccount]:
    """The environment's accounts, narrowed by GET /linked-accounts' (validated) filters."""
    qs = LinkedAccount.objects.filter(organization=organization, account_type=account_type)
    filters = filters or {}
    if "is_test_account" in filters and filters["is_test_account"] != (account_type == AccountType.TEST):
        return qs.none()  # a production key asking for test accounts (or the reverse) sees none
    for field in _EXACT_FILTERS:
        if field in filters:
            qs = qs.filter(**{field: filters[field]})
    if "end_user_origin_ids" in filters:
        qs = qs.filter(end_user_origin_id__in=filters["end_user_origin_ids"])
    if "ids" in filters:
        qs = qs.filter(id__in=filters["ids"])
    if "integration_name" in filters:
        qs = qs.filter(integration__in=catalog.slugs_for_name(filters["integration_name"]))
    return qs


def organizations_for_user(*, user) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).order_by("name")


def linked_account_counts_by_status() -> dict[tuple[str, str], int]:
    """{(status, account_type): count} over every organization: one GROUP BY, for the metrics
    gauge (which caches it; see accounts/metrics.py)."""
    rows = LinkedAccount.objects.values_list("status", "account_type").annotate(n=Count("id")).order_by()
    return {(status, account_type): n for status, account_type, n in rows}
