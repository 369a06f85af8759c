"""Writes of the link flow: link tokens, finishing a link or relink (`link_finish`, the one path
used by the end-user page and the sandbox public-token endpoint), public-token exchange, magic
links and relink e-mails."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts import catalog
from accounts.crypto import new_token, token_hash
from accounts.models import (
    Category,
    LinkedAccount,
    LinkedAccountStatus,
    LinkedAccountStatusChange,
    Organization,
)
from accounts.selectors import linked_account_details, linked_account_find_by_origin, linked_account_token
from accounts.services import (
    linked_account_create,
    linked_account_mark_complete,
    linked_account_set_credentials,
)
from issues.models import CREDENTIAL_ERRORS, WebhookEvent
from issues.services import issues_resolve_for_account
from issues.webhooks.events import webhook_event_emit
from syncs.credentials import credentials_validate
from syncs.dispatch import sync_queue_now

from .models import LinkToken, PublicToken, RelinkEmail, RelinkEmailKind
from .selectors import RELINK_REASON, integration_exists, link_token_problem, relink_email_last_sent

logger = logging.getLogger(__name__)

LINK_EXPIRY_DEFAULT_MINS = 30
LINK_EXPIRY_MIN_MINS = 30
LINK_EXPIRY_MAX_MINS = 720
MAGIC_LINK_EXPIRY_MAX_MINS = 7 * 24 * 60
PUBLIC_TOKEN_TTL = timedelta(minutes=30)
CREDENTIAL_VALUE_MAX_LENGTH = 4096

LINK_TOKEN_PROBLEM_MESSAGES = {
    "unknown": "This link is not valid. Ask for a new one.",
    "used": "This link has already been used to connect an account. Ask for a new one if you need to "
    "connect again.",
    "expired": "This link has expired. Ask for a new one.",
}


class LinkProblem(Exception):
    """The link cannot go on: the token is unknown/used/expired ('unknown', 'used', 'expired'), or
    the request does not fit it ('integration', 'credentials'). `message` is for the end user."""

    def __init__(self, code: str, message: str | None = None):
        self.code = code
        self.message = message or LINK_TOKEN_PROBLEM_MESSAGES.get(code, "This link cannot be used.")
        super().__init__(self.message)


class PublicTokenProblem(Exception):
    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass
class LinkTokenCreated:
    link_token: LinkToken
    raw_token: str
    integration_name: str | None
    magic_link_url: str | None


@dataclass
class LinkFinished:
    """`ok` False: the provider rejected the credentials (nothing was changed, the end user may
    retry); `message` says why in plain words, `support_text` is set when a relink failed."""

    ok: bool
    account: LinkedAccount | None = None
    public_token: str | None = None
    is_relink: bool = False
    error_description: str | None = None
    message: str = ""
    support_text: str = ""


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
        if account is not None:
            break

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


def _clean_credentials(*, integration: str, credentials: Any) -> dict[str, str]:
    """Exactly the integration's credential fields, as non-empty strings. Messages name fields,
    never values."""
    if not isinstance(credentials, dict):
        raise LinkProblem("credentials", "Send the credentials as an object of field names to values.")
    fields = catalog.get(integration).credential_fields
    names = [f.name for f in fields] if fields else list(credentials)
    unknown = sorted(set(credentials) - set(names))
    if unknown:
        raise LinkProblem("credentials", f"Unknown credential field(s): {', '.join(unknown)}.")
    cleaned: dict[str, str] = {}
    labels = {f.name: f.label for f in fields}
    for name in names:
        value = credentials.get(name)
        if not isinstance(value, str) or not value.strip():
            raise LinkProblem("credentials", f"Enter your {labels.get(name, name)}.")
        if len(value) > CREDENTIAL_VALUE_MAX_LENGTH:
            raise LinkProblem("credentials", f"The {labels.get(name, name)} is too long.")
        cleaned[name] = value.strip()
    if not cleaned:
        raise LinkProblem("credentials", "Enter your credentials.")
    return cleaned


def _usable_token(
    *, raw_token: str, organization: Organization | None, account_type: str | None, lock: bool
) -> LinkToken:
    qs = LinkToken.objects.select_related("organization").filter(token_hash=token_hash(raw_token or ""))
    if lock:
        qs = qs.select_for_update(of=("self",))
    token = qs.first()
    if token is not None and organization is not None and token.organization_id != organization.id:
        token = None
    if token is not None and account_type is not None and token.account_type != account_type:
        token = None
    problem = link_token_problem(token=token)
    if problem:
        raise LinkProblem(problem)
    return token


def _account_category(*, token: LinkToken, integration: str) -> str:
    served = set(catalog.get(integration).categories)
    if token.category in token.categories and token.category in served:
        return token.category
    for candidate in token.categories:
        if candidate in served:
            return candidate
    raise LinkProblem("integration", "This integration cannot be linked with this link.")


def link_finish(
    *,
    link_token: str,
    integration: str,
    credentials: dict[str, Any],
    organization: Organization | None = None,
    account_type: str | None = None,
) -> LinkFinished:
    """Finish a link flow with the end user's credentials: validate them against the provider
    (one real request), then create the account (new link) or give the existing one the new
    credentials (relink). `organization`/`account_type` restrict which tokens are accepted (the
    sandbox endpoint passes the API key's). Raises LinkProblem; returns ok=False when the
    provider rejects the credentials, leaving the token usable for a retry."""
    token = _usable_token(
        raw_token=link_token, organization=organization, account_type=account_type, lock=False
    )
    if token.linked_account_id is not None:
        bound = LinkedAccount.objects.filter(pk=token.linked_account_id).first()
    else:
        bound = None
    if bound is not None:
        if integration and integration != bound.integration:
            name = catalog.get(bound.integration).name
            raise LinkProblem("integration", f"This link reconnects the existing {name} account.")
        integration = bound.integration
    elif token.integration and integration and integration != token.integration:
        raise LinkProblem("integration", f"This link is for {catalog.get(token.integration).name}.")
    integration = integration or token.integration
    if not integration or not integration_exists(slug=integration):
        raise LinkProblem("integration", "Choose one of the integrations offered.")
    category = _account_category(token=token, integration=integration)
    cleaned = _clean_credentials(integration=integration, credentials=credentials)

    # The provider call happens outside any transaction: no row stays locked while we wait.
    check = credentials_validate(integration=integration, credentials=cleaned)
    if not check.ok:
        support = token.organization.relink_support_text if token.is_relink else ""
        logger.info(
            "link credentials rejected: link_token=%s integration=%s error=%s",
            token.id,
            integration,
            check.error_description,
        )
        return LinkFinished(
            ok=False,
            is_relink=token.is_relink,
            error_description=check.error_description,
            message=check.message,
            support_text=support,
        )

    with transaction.atomic():
        token = _usable_token(
            raw_token=link_token, organization=organization, account_type=account_type, lock=True
        )
        account = None
        if token.linked_account_id is not None:
            account = LinkedAccount.objects.select_for_update().filter(pk=token.linked_account_id).first()
        if account is None:
            account = _account_for_origin(token=token, category=category)
        if account is None:
            account = _link_new(token=token, category=category, integration=integration, credentials=cleaned)
            is_relink = False
            if account is None:
                # Another finish for the same origin id committed first: relink its account.
                account = _account_for_origin(token=token, category=category)
                is_relink = _relink(account=account, integration=integration, credentials=cleaned)
        else:
            is_relink = _relink(account=account, integration=integration, credentials=cleaned)
        token.used_at = timezone.now()
        token.linked_account = account
        token.is_relink = is_relink
        token.save(update_fields=["used_at", "linked_account", "is_relink"])
        raw_public = new_token("pt_")
        PublicToken.objects.create(
            organization=token.organization,
            account_type=token.account_type,
            linked_account=account,
            link_token=token,
            token_hash=token_hash(raw_public),
            expires_at=timezone.now() + PUBLIC_TOKEN_TTL,
        )
    logger.info("link finished: account=%s relink=%s", account.id, is_relink)
    return LinkFinished(ok=True, account=account, public_token=raw_public, is_relink=is_relink)


def _account_for_origin(*, token: LinkToken, category: str) -> LinkedAccount | None:
    return (
        LinkedAccount.objects.select_for_update()
        .filter(
            organization=token.organization,
            account_type=token.account_type,
            category=category,
            end_user_origin_id=token.end_user_origin_id,
        )
        .first()
    )


def _link_new(
    *, token: LinkToken, category: str, integration: str, credentials: dict[str, str]
) -> LinkedAccount | None:
    """Create, complete and announce a new account; None when the origin id was taken meanwhile
    (the database's unique constraint decides, also between concurrent finishes)."""
    try:
        account, account_token = linked_account_create(
            organization=token.organization,
            category=category,
            integration=integration,
            end_user_origin_id=token.end_user_origin_id,
            end_user_organization_name=token.end_user_organization_name,
            end_user_email_address=token.end_user_email_address,
            account_type=token.account_type,
            credentials=credentials,
        )
    except IntegrityError:
        return None
    linked_account_mark_complete(account=account, reason="Linked by the end user")
    sync_queue_now(account=account, reason="Initial sync after linking")
    webhook_event_emit(
        organization=token.organization,
        event=WebhookEvent.LINKED,
        account_details=linked_account_details(account=account),
        data={"is_relink": False, "account_token": account_token},
    )
    return account


def _relink(*, account: LinkedAccount, integration: str, credentials: dict[str, str]) -> bool:
    """New credentials for an existing account (locked by the caller). Returns whether this was
    a relink (the account had been linked before) rather than finishing an INCOMPLETE one."""
    if integration != account.integration:
        raise LinkProblem(
            "integration", f"This end user already has a {catalog.get(account.integration).name} account."
        )
    was_linked = account.completed_at is not None
    linked_account_set_credentials(account=account, credentials=credentials)
    issues_resolve_for_account(
        account=account, reason="Relinked with new credentials", error_descriptions=CREDENTIAL_ERRORS
    )
    if account.status != LinkedAccountStatus.COMPLETE:
        linked_account_mark_complete(
            account=account, reason=RELINK_REASON if was_linked else "Linked by the end user"
        )
    sync_queue_now(account=account, reason="Relinked: sync at once")
    data: dict[str, Any] = {"is_relink": was_linked}
    if not was_linked:
        data["account_token"] = linked_account_token(account=account)
    webhook_event_emit(
        organization=account.organization,
        event=WebhookEvent.LINKED,
        account_details=linked_account_details(account=account),
        data=data,
    )
    return was_linked


def public_token_exchange(
    *, public_token: str, organization: Organization, account_type: str
) -> LinkedAccount:
    """Single use: the first exchange wins (conditional UPDATE), every later one is refused."""
    now = timezone.now()
    digest = token_hash(public_token or "")
    mine = PublicToken.objects.filter(token_hash=digest, organization=organization, account_type=account_type)
    claimed = mine.filter(used_at__isnull=True, expires_at__gt=now).update(used_at=now)
    row = mine.select_related("linked_account__organization").first()
    if row is None:
        raise PublicTokenProblem("unknown", "Unknown public token.")
    if not claimed:
        if row.used_at is not None:
            raise PublicTokenProblem("used", "This public token has already been exchanged.")
        raise PublicTokenProblem("expired", "This public token has expired.")
    return row.linked_account


def relink_email_send(
    *,
    account: LinkedAccount,
    sent_by=None,
    kind: str = RelinkEmailKind.MANUAL,
    base_url: str | None = None,
) -> RelinkEmail:
    """E-mail the account's end user a fresh magic link to reconnect it, and record it."""
    if not account.end_user_email_address:
        raise ValueError("This account has no end-user e-mail address.")
    organization = account.organization
    name = catalog.get(account.integration).name
    with transaction.atomic():
        created = magic_link_create(account=account, base_url=base_url)
        url, token = created.magic_link_url, created.link_token
        record = RelinkEmail.objects.create(
            organization=organization,
            linked_account=account,
            link_token=token,
            to_address=account.end_user_email_address,
            kind=kind,
            sent_by=sent_by if getattr(sent_by, "is_authenticated", False) else None,
            sent_at=timezone.now(),
            link_expires_at=token.expires_at,
        )
        body = (
            f"Hello,\n\n"
            f"{organization.name} can no longer reach your {name} data for "
            f"{account.end_user_organization_name}. Reconnect it here (the link works once, "
            f"until {token.expires_at:%Y-%m-%d %H:%M} UTC):\n\n{url}\n\n"
            f"If you did not expect this e-mail, you can ignore it.\n"
        )
        # Inside the transaction: when the mail server refuses, no record claims it was sent.
        send_mail(
            subject=f"Reconnect {name} to {organization.name}",
            message=body,
            from_email=None,
            recipient_list=[account.end_user_email_address],
        )
    logger.info("relink e-mail sent: account=%s kind=%s", account.id, kind)
    return record


def relink_reminders_send(*, organization: Organization, now=None) -> int:
    """Remind the end users of this organization's accounts that have stayed RELINK_NEEDED for
    `relink_reminder_days`, at most once per that many days. Each account is claimed with
    SKIP LOCKED, so overlapping runs never send twice."""
    days = organization.relink_reminder_days
    if not days:
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    candidates = (
        LinkedAccount.objects.filter(organization=organization, status=LinkedAccountStatus.RELINK_NEEDED)
        .annotate(
            last_email=Max("relink_emails__sent_at"),
        )
        .filter(Q(last_email__isnull=True) | Q(last_email__lte=cutoff))
        .values_list("id", flat=True)
    )
    sent = 0
    for account_id in list(candidates):
        since = (
            LinkedAccountStatusChange.objects.filter(
                linked_account_uuid=account_id, to_status=LinkedAccountStatus.RELINK_NEEDED
            )
            .order_by("-at", "-id")
            .values_list("at", flat=True)
            .first()
        )
        if since is None or since > cutoff:
            continue
        with transaction.atomic():
            account = (
                LinkedAccount.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("organization")
                .filter(pk=account_id, status=LinkedAccountStatus.RELINK_NEEDED)
                .first()
            )
            if account is None:
                continue
            last = relink_email_last_sent(account=account)
            if last is not None and last.sent_at > cutoff:
                continue
            relink_email_send(account=account, kind=RelinkEmailKind.REMINDER)
            sent += 1
    return sent


def link_tokens_purge(*, older_than: timedelta = timedelta(days=30)) -> int:
    """Forget link tokens that expired long ago (their accounts and e-mail records stay)."""
    cutoff = timezone.now() - older_than
    deleted, _ = LinkToken.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
