"""Link tokens and magic links: the single-use token behind a link page, bound to the existing
account when the end user already has one (a relink), and the stand-alone magic link an operator
sends to an end user."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import catalog
from accounts.crypto import new_token, token_hash
from accounts.models import Category, LinkedAccount, LinkedAccountStatus, Organization
from accounts.selectors import linked_account_find_by_origin

from .models import LinkToken
from .selectors import integration_allowed_for, integration_exists

LINK_EXPIRY_DEFAULT_MINS = 30
LINK_EXPIRY_MIN_MINS = 30
LINK_EXPIRY_MAX_MINS = 720
MAGIC_LINK_EXPIRY_MAX_MINS = 7 * 24 * 60


@dataclass
class LinkTokenCreated:
    link_token: LinkToken
    raw_token: str
    integration_name: str | None
    magic_link_url: str | None


def link_page_url(*, raw_token: str, magic: bool = False, base_url: str | None = None) -> str:
    base = (base_url or settings.PUBLIC_BASE_URL).rstrip("/")
    return f"{base}/link/{raw_token}" + ("?mode=magic" if magic else "")


def link_token_create(
    *,
    organization: Organization,
    account_type: str,
    category: str,
    categories: list[str],
    end_user_origin_id: str,
    end_user_organization_name: str,
    end_user_email_address: str,
    integration: str = "",
    link_expiry_mins: int | None = None,
    should_create_magic_link_url: bool = False,
    language: str = "",
    base_url: str | None = None,
) -> LinkTokenCreated:
    """A single-use link token. Bound to the existing account when the organization already has
    one in this environment for the origin id in one of the categories (relink). Raises
    ValidationError with a reason per field."""
    errors: dict[str, list[str]] = {}
    categories = list(dict.fromkeys(categories))
    if not categories:
        errors["categories"] = ["Name at least one category."]
    bad = [c for c in categories if c not in Category.values]
    if bad:
        errors["categories"] = [f"Unknown category: {', '.join(bad)}. Use {', '.join(Category.values)}."]
    expiry = LINK_EXPIRY_DEFAULT_MINS if link_expiry_mins is None else link_expiry_mins
    upper = MAGIC_LINK_EXPIRY_MAX_MINS if should_create_magic_link_url else LINK_EXPIRY_MAX_MINS
    if not LINK_EXPIRY_MIN_MINS <= expiry <= upper:
        hint = "" if should_create_magic_link_url else f" ({MAGIC_LINK_EXPIRY_MAX_MINS} with a magic link)"
        errors["link_expiry_mins"] = [f"Must be between {LINK_EXPIRY_MIN_MINS} and {upper} minutes{hint}."]
    if integration:
        if not integration_exists(slug=integration):
            errors["integration"] = [f"Unknown integration slug '{integration}'."]
        elif not errors.get("categories") and not set(catalog.get(integration).categories) & set(categories):
            errors["integration"] = [
                f"'{integration}' serves none of the categories {', '.join(categories)}."
            ]
    if errors:
        raise ValidationError(errors)

    ordered = [category] + [c for c in categories if c != category] if category in categories else categories
    account = None
    for candidate in ordered:
        account = linked_account_find_by_origin(
            organization=organization,
            account_type=account_type,
            category=candidate,
            end_user_origin_id=end_user_origin_id,
        )
        # An account never linked (INCOMPLETE: an attempt that did not finish) binds nothing: the
        # end user may choose any integration, and finishing completes that account.
        if account is not None and (account.status != LinkedAccountStatus.INCOMPLETE or account.completed_at):
            break
        account = None
    if (
        integration
        and account is None
        and not integration_allowed_for(slug=integration, account_type=account_type)
    ):
        raise ValidationError({"integration": [f"'{integration}' is a sandbox: use a test API key for it."]})

    raw = new_token("lt_")
    token = LinkToken.objects.create(
        organization=organization,
        account_type=account_type,
        token_hash=token_hash(raw),
        category=category,
        categories=categories,
        integration=account.integration if account else integration,
        end_user_origin_id=end_user_origin_id,
        end_user_organization_name=end_user_organization_name,
        end_user_email_address=end_user_email_address,
        language=language,
        is_magic_link=should_create_magic_link_url,
        linked_account=account,
        is_relink=account is not None,
        expires_at=timezone.now() + timedelta(minutes=expiry),
    )
    name = catalog.get(token.integration).name if token.integration else None
    magic = (
        link_page_url(raw_token=raw, magic=True, base_url=base_url) if should_create_magic_link_url else None
    )
    return LinkTokenCreated(link_token=token, raw_token=raw, integration_name=name, magic_link_url=magic)


def magic_link_create(
    *,
    account: LinkedAccount | None = None,
    organization: Organization | None = None,
    account_type: str | None = None,
    category: str | None = None,
    end_user_origin_id: str | None = None,
    end_user_organization_name: str | None = None,
    end_user_email_address: str | None = None,
    integration: str = "",
    expiry_mins: int = MAGIC_LINK_EXPIRY_MAX_MINS,
    base_url: str | None = None,
) -> LinkTokenCreated:
    """A stand-alone link page (valid `expiry_mins`, up to 7 days) to send to an end user: for an
    existing account (a relink), or for a new end user given the origin details. The URL is
    `.magic_link_url`."""
    if account is not None:
        organization = account.organization
        account_type = account.account_type
        category = account.category
        end_user_origin_id = account.end_user_origin_id
        end_user_organization_name = account.end_user_organization_name
        end_user_email_address = account.end_user_email_address
        integration = account.integration
    if None in (organization, account_type, category, end_user_origin_id):
        raise ValueError(
            "magic_link_create needs an account, or organization/account_type/category/origin id"
        )
    return link_token_create(
        organization=organization,
        account_type=account_type,
        category=category,
        categories=[category],
        end_user_origin_id=end_user_origin_id,
        end_user_organization_name=end_user_organization_name or "",
        end_user_email_address=end_user_email_address or "",
        integration=integration,
        link_expiry_mins=expiry_mins,
        should_create_magic_link_url=True,
        base_url=base_url,
    )
