"""IDLE marking: COMPLETE accounts nobody has asked about for a while sync at most daily."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from accounts.models import LinkedAccount, LinkedAccountStatus
from accounts.services import linked_account_mark_idle

logger = logging.getLogger(__name__)


def linked_accounts_mark_idle(*, now: datetime | None = None, limit: int = 1000) -> int:
    """COMPLETE accounts with no inbound API request for IDLE_AFTER_DAYS become IDLE."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.IDLE_AFTER_DAYS)
    candidates = LinkedAccount.objects.filter(status=LinkedAccountStatus.COMPLETE).filter(
        Q(last_inbound_at__lt=cutoff)
        | Q(last_inbound_at__isnull=True, completed_at__lt=cutoff)
        | Q(last_inbound_at__isnull=True, completed_at__isnull=True, created_at__lt=cutoff)
    )
    count = 0
    for account in candidates.only("id", "status", "organization_id")[:limit]:
        try:
            linked_account_mark_idle(
                account=account, reason=f"No API request for this account in {settings.IDLE_AFTER_DAYS} days"
            )
            count += 1
        except (TransitionNotAllowed, LinkedAccount.DoesNotExist):  # changed or deleted meanwhile
            logger.info("account %s changed before it could be marked idle", account.pk)
    return count
