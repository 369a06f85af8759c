"""Beat jobs of the link flow: relink reminder e-mails (per organization, off by default) and
forgetting long-expired link tokens. Each task loads by id and calls one service."""

from celery import shared_task

from accounts.models import Organization

from .oauth_expiry import credentials_expiring_sweep as credentials_expiring_sweep_service
from .oauth_expiry import credentials_expiring_warn
from .purge import link_tokens_purge
from .relink_emails import relink_reminders_send


@shared_task(name="linking.relink_reminders_sweep", soft_time_limit=60, time_limit=90)
def relink_reminders_sweep() -> int:
    """Fan out: one task per organization that turned reminders on."""
    ids = list(Organization.objects.filter(relink_reminder_days__isnull=False).values_list("id", flat=True))
    for organization_id in ids:
        relink_reminders_for_organization.delay(str(organization_id))
    return len(ids)


@shared_task(name="linking.relink_reminders_for_organization", soft_time_limit=240, time_limit=300)
def relink_reminders_for_organization(organization_id: str) -> int:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return 0
    return relink_reminders_send(organization=organization)


@shared_task(name="linking.purge_expired_link_tokens", soft_time_limit=120, time_limit=150)
def link_tokens_purge_expired() -> int:
    return link_tokens_purge()


@shared_task(name="linking.warn_credentials_expiring", soft_time_limit=60, time_limit=90)
def warn_credentials_expiring(account_id: str) -> bool:
    return credentials_expiring_warn(account_id=account_id)


@shared_task(name="linking.credentials_expiring_sweep", soft_time_limit=240, time_limit=300, expires=900)
def credentials_expiring_sweep() -> int:
    return credentials_expiring_sweep_service()
