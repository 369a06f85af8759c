"""Relink e-mails: a fresh magic link e-mailed to an account's end user, by an operator or as
the organization's periodic reminder for accounts that stay RELINK_NEEDED."""

import logging
from datetime import timedelta

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts import catalog
from accounts.models import LinkedAccount, LinkedAccountStatus, LinkedAccountStatusChange, Organization

from .link_tokens import magic_link_create
from .models import RelinkEmail, RelinkEmailKind
from .selectors import relink_email_last_sent

logger = logging.getLogger(__name__)


def relink_email_send(
    *,
    account: LinkedAccount,
    sent_by=None,
    kind: str = RelinkEmailKind.MANUAL,
    base_url: str | None = None,
    why: str = "",
) -> RelinkEmail:
    """E-mail the account's end user a fresh magic link to reconnect it, and record it. `why`
    replaces the default first sentence (the account can no longer be reached)."""
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
        why = why or (
            f"{organization.name} can no longer reach your {name} data for {account.end_user_organization_name}."
        )
        body = (
            f"Hello,\n\n"
            f"{why} Reconnect it here (the link works once, "
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
