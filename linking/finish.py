"""Finishing a link or relink: the one path by which an end user's credentials reach a linked
account, used by the link page, the sandbox public-token endpoint and (for OAuth grants) the
OAuth callback; and the public-token exchange that follows it.

`link_finish` takes credentials typed into the link page: it checks them against the provider
(one real request) and then completes the link. `link_finish_validated` completes it with
credentials already known to work (an OAuth callback's token exchange proved them). Both create
the account (a new link) or give the existing one the new credentials (a relink: same id, same
account token), resolve its credential issues, bring it back to COMPLETE, queue a sync and
announce `LinkedAccount.linked`."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import catalog
from accounts.crypto import new_token, token_hash
from accounts.models import LinkedAccount, LinkedAccountStatus, Organization
from accounts.selectors import linked_account_details
from accounts.services import (
    linked_account_mark_complete,
    linked_account_set_credentials,
    linked_account_set_integration,
)
from issues.models import CREDENTIAL_ERRORS, WebhookEvent
from issues.services import issues_resolve_for_account
from issues.webhooks.events import webhook_event_emit
from syncs.credentials import credentials_validate
from syncs.dispatch import sync_queue_now

from .attempts import (
    link_attempt_record_failure,
    link_attempt_record_success,
    linked_account_create_for_token,
    linked_account_for_origin,
    linked_account_for_token,
)
from .models import LinkToken, PublicToken, SingleUse
from .selectors import RELINK_REASON, integration_allowed_for, integration_exists, link_token_problem

logger = logging.getLogger(__name__)

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
class LinkFinished:
    """`ok` False: the provider rejected the credentials (the attempt is recorded, a new link
    leaves an INCOMPLETE account, the end user may retry with the same token); `message` says why
    in plain words, `support_text` is set when a relink failed."""

    ok: bool
    account: LinkedAccount | None = None
    public_token: str | None = None
    is_relink: bool = False
    error_description: str | None = None
    message: str = ""
    support_text: str = ""


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


@dataclass(frozen=True)
class LinkTarget:
    """What a usable link token lets the end user link: which integration, in which category;
    and how the token was asked for (to find it again, locked, when the link completes)."""

    token: LinkToken
    integration: str
    category: str
    raw_token: str
    organization: Organization | None
    account_type: str | None


def link_target_resolve(
    *,
    link_token: str,
    integration: str,
    organization: Organization | None = None,
    account_type: str | None = None,
) -> LinkTarget:
    """The integration and category this link token may finish with (a relink token: only its
    account's integration). `organization`/`account_type` restrict which tokens are accepted
    (the sandbox endpoint passes the API key's). Raises LinkProblem."""
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
    if bound is None and not integration_allowed_for(slug=integration, account_type=token.account_type):
        raise LinkProblem("integration", f"{catalog.get(integration).name} is only offered on test links.")
    category = _account_category(token=token, integration=integration)
    return LinkTarget(
        token=token,
        integration=integration,
        category=category,
        raw_token=link_token,
        organization=organization,
        account_type=account_type,
    )


def link_finish(*, credentials: dict[str, Any], **link: Any) -> LinkFinished:
    """Finish a link flow with the credentials the end user typed in: check them against the
    provider (one real request), then complete the link (`link_finish_validated`). `link`: the
    link token and integration as `link_target_resolve` takes them. Raises LinkProblem; returns
    ok=False when the provider rejects the credentials, leaving the token usable for a retry."""
    target = link_target_resolve(**link)
    cleaned = _clean_credentials(integration=target.integration, credentials=credentials)

    # The provider call happens outside any transaction: no row stays locked while we wait.
    check = credentials_validate(
        integration=target.integration, credentials=cleaned, tenant=str(target.token.organization_id)
    )
    if not check.ok:
        token = target.token
        support = token.organization.relink_support_text if token.is_relink else ""
        attempt = link_attempt_record_failure(
            token=token,
            category=target.category,
            integration=target.integration,
            error_description=check.error_description or "",
            message=check.message,
        )
        logger.info(
            "link credentials rejected: link_token=%s integration=%s error=%s account=%s",
            token.id,
            target.integration,
            check.error_description,
            attempt.linked_account_id,
        )
        return LinkFinished(
            ok=False,
            is_relink=token.is_relink,
            error_description=check.error_description,
            message=check.message,
            support_text=support,
        )
    return _complete(target=target, credentials=cleaned)


def link_finish_validated(*, credentials: dict[str, Any], attempt_id=None, **link: Any) -> LinkFinished:
    """Finish a link flow with credentials already known to work (an OAuth callback's token
    exchange proved them): no provider call here. Creates the account (a new link) or gives the
    existing one the new credentials (a relink), uses up the token and returns a public token
    (ok=True); `attempt_id`, the attempt recorded when the consent started, becomes the successful
    one. `link` as for `link_finish`. Raises LinkProblem when the token or integration does not
    fit."""
    return _complete(target=link_target_resolve(**link), credentials=credentials, attempt_id=attempt_id)


def _complete(*, target: LinkTarget, credentials: dict[str, Any], attempt_id=None) -> LinkFinished:
    """One transaction: the token (locked, checked again: a concurrent finish may have used it),
    the account created or relinked, the token used up, a public token issued."""
    integration, category = target.integration, target.category
    with transaction.atomic():
        token = _usable_token(
            raw_token=target.raw_token,
            organization=target.organization,
            account_type=target.account_type,
            lock=True,
        )
        account = linked_account_for_token(token=token, category=category)
        if account is None:
            account = _link_new(
                token=token, category=category, integration=integration, credentials=credentials
            )
            is_relink = False
            if account is None:
                # Another finish for the same origin id committed first: relink its account.
                account = linked_account_for_origin(token=token, category=category)
                is_relink = _relink(account=account, integration=integration, credentials=credentials)
        else:
            is_relink = _relink(account=account, integration=integration, credentials=credentials)
        token.used_at = timezone.now()
        token.linked_account = account
        token.is_relink = is_relink
        token.save(update_fields=["used_at", "linked_account", "is_relink"])
        link_attempt_record_success(account=account, integration=integration, attempt_id=attempt_id)
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


def _link_new(
    *, token: LinkToken, category: str, integration: str, credentials: dict[str, Any]
) -> LinkedAccount | None:
    """Create, complete and announce a new account; None when the origin id was taken meanwhile
    (the database's unique constraint decides, also between concurrent finishes)."""
    try:
        account = linked_account_create_for_token(
            token=token, category=category, integration=integration, credentials=credentials
        )
    except IntegrityError:
        return None
    linked_account_mark_complete(account=account, reason="Linked by the end user")
    _linked(account=account, is_relink=False, sync_reason="Initial sync after linking")
    return account


def _relink(*, account: LinkedAccount, integration: str, credentials: dict[str, Any]) -> bool:
    """New credentials for an existing account (locked by the caller). Returns whether this was
    a relink (the account had been linked before) rather than finishing an INCOMPLETE one (which
    takes the integration the end user linked with: an earlier attempt may have tried another)."""
    if not linked_account_set_integration(account=account, integration=integration):
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
    _linked(account=account, is_relink=was_linked, sync_reason="Relinked: sync at once")
    return was_linked


def _linked(*, account: LinkedAccount, is_relink: bool, sync_reason: str) -> None:
    """A (re)linked account: its sync queued and LinkedAccount.linked emitted, with the account
    token unless it is a relink (filled in when sent, never stored)."""
    sync_queue_now(account=account, reason=sync_reason)
    webhook_event_emit(
        organization=account.organization,
        event=WebhookEvent.LINKED,
        account_details=linked_account_details(account=account),
        data={"is_relink": is_relink},
        with_account_token=not is_relink,
    )


def public_token_exchange(
    *, public_token: str, organization: Organization, account_type: str
) -> LinkedAccount:
    """Single use: the first exchange wins (conditional UPDATE), every later one is refused."""
    now = timezone.now()
    digest = token_hash(public_token or "")
    mine = PublicToken.objects.filter(token_hash=digest, organization=organization, account_type=account_type)
    claimed = mine.filter(SingleUse.usable(now)).update(used_at=now)
    row = mine.select_related("linked_account__organization").first()
    if row is None:
        raise PublicTokenProblem("unknown", "Unknown public token.")
    if not claimed:
        if row.used_at is not None:
            raise PublicTokenProblem("used", "This public token has already been exchanged.")
        raise PublicTokenProblem("expired", "This public token has expired.")
    return row.linked_account
