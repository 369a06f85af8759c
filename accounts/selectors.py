from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from . import catalog
from .crypto import constant_time_equals, decrypt_json, decrypt_str, token_hash
from .models import ApiKey, LinkedAccount, Membership, Organization


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    digest = token_hash(raw_key)
    key = (
        ApiKey.objects.select_related("organization").filter(key_hash=digest, revoked_at__isnull=True).first()
    )
    if key is None or not constant_time_equals(key.key_hash, digest):
        return None
    return key


def linked_account_for_token(
    *, raw_token: str, organization: Organization, account_type: str
) -> LinkedAccount | None:
    """The account behind an X-Account-Token, only within the key's organization and environment."""
    digest = token_hash(raw_token)
    account = LinkedAccount.objects.filter(
        account_token_hash=digest, organization=organization, account_type=account_type
    ).first()
    if account is None or not constant_time_equals(account.account_token_hash, digest):
        return None
    return account


def linked_account_token(*, account: LinkedAccount) -> str:
    return decrypt_str(account.account_token_encrypted)


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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def linked_account_details(*, account: LinkedAccount) -> dict[str, Any]:
    """The contract's account-details fields: the API response and every webhook's `linked_account`."""
    info = catalog.get(account.integration)
    return {
        "id": str(account.id),
        "integration": info.name,
        "integration_slug": account.integration,
        "category": account.category,
        "end_user_origin_id": account.end_user_origin_id,
        "end_user_organization_name": account.end_user_organization_name,
        "end_user_email_address": account.end_user_email_address,
        "status": account.status,
        "webhook_listener_url": account.webhook_listener_url,
        "is_duplicate": account.is_duplicate,
        "account_type": account.account_type,
        "completed_at": _iso(account.completed_at),
    }


def linked_accounts_for_environment(
    *, organization: Organization, account_type: str
) -> QuerySet[LinkedAccount]:
    return LinkedAccount.objects.filter(organization=organization, account_type=account_type)


def organizations_for_user(*, user) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).order_by("name")


def user_is_member(*, user, organization_id) -> bool:
    return Membership.objects.filter(user=user, organization_id=organization_id).exists()
