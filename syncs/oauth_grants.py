"""OAuth grants over time: keep idle grants alive, check an account's credentials, and find and
claim grants whose stated end is near (the warning itself is sent by `linking`, which owns the
relink e-mail).

A grant that fails here for real (invalid_grant) is not judged here: a forced sync is queued,
and the sync run's status rule records the issue and the status, the one place that does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import LinkedAccount, LinkedAccountStatus
from accounts.selectors import linked_account_credentials

from . import integrations
from .integrations.base import ErrorClass, ProviderError
from .integrations.oauth import OAuth2Integration
from .models_oauth import OAuthToken
from .oauth_tokens import RefreshResult, oauth_token_refresh

logger = logging.getLogger(__name__)

LIVE = (LinkedAccountStatus.COMPLETE, LinkedAccountStatus.IDLE)


def _live_oauth_account(account_id: Any) -> tuple[LinkedAccount, OAuth2Integration] | None:
    """The account and its OAuth integration, when it is COMPLETE or IDLE and uses one."""
    account = LinkedAccount.objects.filter(pk=account_id).first()
    if account is None or account.status not in LIVE:
        return None
    integration = integrations.find(account.integration)
    return (account, integration) if isinstance(integration, OAuth2Integration) else None


@dataclass
class CheckResult:
    ok: bool
    error: ProviderError | None = None


def oauth_account_validate(*, account_id: Any) -> CheckResult | None:
    """One cheap authenticated request with the account's OAuth tokens (refreshed first when
    they expire). A credential failure queues a forced sync, whose status rule judges it."""
    from .dispatch import sync_queue_now
    from .request_logs import request_logs_write

    found = _live_oauth_account(account_id)
    if found is None:
        return None
    account, integration = found
    credentials = linked_account_credentials(account=account)
    session = integration.session(credentials, account=account, tenant=str(account.organization_id))
    try:
        integration.validate(credentials, session)
        result = CheckResult(True)
    except ProviderError as exc:
        if exc.error_class in (ErrorClass.CREDENTIALS_REJECTED, ErrorClass.MISSING_PERMISSIONS):
            sync_queue_now(account=account, reason="A credential check failed")
        result = CheckResult(False, exc)
    request_logs_write(entries=session.log, integration=integration.slug, account=account)
    return result


def oauth_account_keep_alive(*, account_id: Any) -> RefreshResult | None:
    """Refresh the account's grant now (it would die unused). A dead grant queues a forced sync."""
    from .dispatch import sync_queue_now

    found = _live_oauth_account(account_id)
    if found is None:
        return None
    account, integration = found
    try:
        result = oauth_token_refresh(account_id=account.pk, integration=integration, force=True)
    except ProviderError as exc:
        if exc.error_class in (ErrorClass.CREDENTIALS_REJECTED, ErrorClass.MISSING_PERMISSIONS):
            sync_queue_now(account=account, reason="Keeping the OAuth grant alive failed")
        logger.info("keep-alive refresh of %s failed: %s", account.pk, exc)
        return None
    return result


def oauth_keep_alive_due(*, now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Accounts (COMPLETE or IDLE) of integrations whose grants die unused, not refreshed for
    half their idle lifetime: refresh them well before they lapse."""
    now = now or timezone.now()
    due: list[str] = []
    for integration in integrations.all_integrations():
        days = getattr(integration, "idle_expiry_days", None)
        if not isinstance(integration, OAuth2Integration) or not days:
            continue
        cutoff = now - timedelta(days=days / 2)
        accounts = LinkedAccount.objects.filter(integration=integration.slug, status__in=LIVE)
        stale = accounts.filter(
            Q(oauth_token__isnull=True, completed_at__lt=cutoff)
            | Q(oauth_token__refreshed_at__lt=cutoff)
            | Q(oauth_token__refreshed_at__isnull=True, oauth_token__created_at__lt=cutoff)
        )
        due += [str(pk) for pk in stale.order_by("pk").values_list("pk", flat=True)[: limit - len(due)]]
        if len(due) >= limit:
            break
    return due


def oauth_keep_alive_dispatch(*, now: datetime | None = None) -> int:
    """The beat job: one keep-alive task per due account."""
    from .tasks import oauth_keep_alive_account

    due = oauth_keep_alive_due(now=now)
    for account_id in due:
        oauth_keep_alive_account.delay(account_id)
    return len(due)


# --- grant ends (read by linking's warning job) -----------------------------------------------------
def oauth_grants_ending(*, before: datetime, limit: int = 500) -> list[str]:
    """Accounts whose current grant's stated end is before `before` and not yet warned about."""
    return [
        str(pk)
        for pk in OAuthToken.objects.filter(
            grant_expires_at__isnull=False, grant_expires_at__lt=before, grant_expiry_warned_at__isnull=True
        )
        .order_by("grant_expires_at")
        .values_list("linked_account_id", flat=True)[:limit]
    ]


def oauth_grant_claim_expiry_warning(*, account_id: Any, before: datetime) -> datetime | None:
    """Claim the one warning of the account's current grant (a conditional UPDATE: once per
    grant, whoever asks). Returns the grant's end when this caller must warn, else None. Call
    inside the transaction that sends the warning, so a failed send un-claims it."""
    now = timezone.now()
    row = OAuthToken.objects.filter(pk=account_id).values_list("grant_expires_at", flat=True).first()
    if row is None or row >= before:
        return None
    claimed = OAuthToken.objects.filter(
        pk=account_id, grant_expiry_warned_at__isnull=True, grant_expires_at=row
    ).update(grant_expiry_warned_at=now)
    return row if claimed else None


def oauth_grant_ends(*, account_ids: list[Any], organization: Any) -> dict[str, dict[str, Any]]:
    """For the dashboard badge: {account id: {"expires_at", "warned"}} of the organization's
    grants with a stated end within the warning window."""
    horizon = timezone.now() + timedelta(days=settings.CREDENTIALS_EXPIRY_WARNING_DAYS)
    rows = OAuthToken.objects.filter(
        linked_account_id__in=account_ids,
        linked_account__organization=organization,
        grant_expires_at__isnull=False,
        grant_expires_at__lt=horizon,
    ).values_list("linked_account_id", "grant_expires_at", "grant_expiry_warned_at")
    return {str(pk): {"expires_at": end, "warned": warned is not None} for pk, end, warned in rows}
