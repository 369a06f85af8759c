"""Seed an organization with n of everything the dashboard lists (accounts in every status,
sync runs with request logs, issues, webhook endpoints and deliveries with attempts)."""

from datetime import timedelta

from django.utils import timezone

from accounts.models import AccountType
from accounts.services import linked_account_mark_relink_needed
from issues.models import (
    AttemptOutcome,
    DeliveryStatus,
    ErrorDescription,
    WebhookAttempt,
    WebhookDelivery,
)
from issues.services import issue_record_failure
from issues.webhooks.endpoints import webhook_endpoint_create
from issues.webhooks.events import webhook_event_emit
from syncs.models import Employee, RequestLog, SyncRun, SyncRunStatus, SyncTrigger


def seed(tenant, n: int, *, prefix: str = "acct") -> dict:
    organization = tenant.organization
    accounts = []
    endpoint, signature_key = webhook_endpoint_create(
        organization=organization, url=f"http://127.0.0.1:9/{prefix}-hook", events=None
    )
    now = timezone.now()
    for i in range(n):
        kind = i % 4
        account, token = tenant.linked_account(
            origin_id=f"{prefix}-{i}",
            account_type=AccountType.TEST if kind == 3 else AccountType.PRODUCTION,
            complete=kind != 2,
        )
        account.organization = organization
        accounts.append((account, token))
        run = SyncRun.objects.create(
            linked_account=account,
            organization=organization,
            integration=account.integration,
            trigger=SyncTrigger.SCHEDULE,
            status=SyncRunStatus.DONE if kind != 1 else SyncRunStatus.FAILED,
            started_at=now - timedelta(minutes=10),
            finished_at=now - timedelta(minutes=9),
            requests_total=3,
            requests_failed=0 if kind != 1 else 3,
            records_fetched=20,
        )
        RequestLog.objects.bulk_create(
            RequestLog(
                linked_account=account,
                sync_run=run,
                organization_id=organization.id,
                integration=account.integration,
                method="GET",
                url=f"/v1/employees?page={p}",
                status_code=200 if kind != 1 else 401,
                duration_ms=12,
                error_class="" if kind != 1 else "INVALID_API_KEY",
                created_at=now,
            )
            for p in range(3)
        )
        Employee.objects.create(
            linked_account=account, remote_id=f"e-{i}", first_name="Ada", last_name="L", modified_at=now
        )
        if kind == 1:
            issue_record_failure(
                account=account,
                error_description=ErrorDescription.INVALID_API_KEY,
                detail="HTTP 401 from provider",
            )
            linked_account_mark_relink_needed(account=account, reason="Invalid API key")
        if kind == 0:
            issue_record_failure(
                account=account,
                error_description=ErrorDescription.RATE_LIMITED,
                detail="HTTP 429 after retries",
            )
    # Deliveries: whatever the issues above emitted, plus one with attempts per account.
    for account, _ in accounts:
        emitted = webhook_event_emit(
            organization=organization,
            event="LinkedAccount.sync_completed",
            account_details={"id": str(account.id)},
            data={"sync_status": "DONE"},
        )
        (delivery,) = [d for d in emitted if d.endpoint_id == endpoint.id]
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempt_count=1)
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=1,
            started_at=now,
            duration_ms=30,
            outcome=AttemptOutcome.PERMANENT,
            status_code=410,
            response_body="gone",
        )
    return {"accounts": accounts, "endpoint": endpoint, "signature_key": signature_key}


def page_urls(*, account, issue, endpoint, delivery) -> dict[str, str]:
    """The dashboard's pages (by name): its fixed ones and those of one account, issue, webhook
    endpoint and delivery. Tests add the variants they also visit."""
    return {
        "home": "/",
        "account": f"/accounts/{account.id}",
        # The account page's panels, each also a page of its own.
        "account-sync-runs": f"/accounts/{account.id}/sync-runs",
        "account-issues": f"/accounts/{account.id}/issues",
        "account-relink": f"/accounts/{account.id}/relink",
        "issues": "/issues",
        "issue": f"/issues/{issue.id}",
        "webhooks": "/webhooks",
        "webhook": f"/webhooks/{endpoint.id}",
        "delivery": f"/webhooks/deliveries/{delivery.id}",
        "billing": "/billing",
        "settings": "/settings",
    }
