"""Warn end users before their OAuth grant ends (when the provider states the end): once per
grant, the `LinkedAccount.credentials_expiring` event, a relink e-mail with a magic link
(the relink e-mail service), and the dashboard badge (read from the grant's end)."""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import catalog
from accounts.models import LinkedAccount, LinkedAccountStatus
from accounts.selectors import linked_account_details
from issues.models import WebhookEvent
from issues.webhooks.events import webhook_event_emit
from syncs.services_oauth import oauth_grant_claim_expiry_warning, oauth_grants_ending

from .models import RelinkEmailKind
from .relink_emails import relink_email_send

logger = logging.getLogger(__name__)

REASON = "The provider stated when this OAuth grant ends; the end user must reconnect before then."


def _horizon():
    return timezone.now() + timedelta(days=settings.CREDENTIALS_EXPIRY_WARNING_DAYS)


def credentials_expiring_warn(*, account_id: Any) -> bool:
    """Warn about the account's grant if its end is within the window and nobody has yet.
    Returns True when this call warned."""
    with transaction.atomic():
        account = (
            LinkedAccount.objects.select_for_update(of=("self",))
            .select_related("organization")
            .filter(pk=account_id)
            .first()
        )
        if account is None or account.status == LinkedAccountStatus.INCOMPLETE:
            return False
        ends_at = oauth_grant_claim_expiry_warning(account_id=account.pk, before=_horizon())
        if ends_at is None:
            return False
        webhook_event_emit(
            organization=account.organization,
            event=WebhookEvent.CREDENTIALS_EXPIRING,
            account_details=linked_account_details(account=account),
            data={"expires_at": ends_at.isoformat(), "reason": REASON},
        )
        if account.end_user_email_address:
            name = catalog.get(account.integration).name
            relink_email_send(
                account=account,
                kind=RelinkEmailKind.EXPIRING,
                why=(
                    f"Your {name} connection for {account.end_user_organization_name} stops working on "
                    f"{ends_at:%Y-%m-%d %H:%M} UTC unless you reconnect it."
                ),
            )
    logger.info("credentials-expiring warning sent: account=%s ends=%s", account_id, ends_at.isoformat())
    return True


def credentials_expiring_sweep() -> int:
    """The beat job: every unwarned grant ending within the window (announcements lost between
    a refresh and the task queue are caught here)."""
    return sum(credentials_expiring_warn(account_id=pk) for pk in oauth_grants_ending(before=_horizon()))
