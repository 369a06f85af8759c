"""Reads for issues and webhooks: the API's Issue object, the dashboard's lists."""

import uuid
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from accounts import catalog
from accounts.crypto import decrypt_str
from accounts.models import LinkedAccount, Organization
from accounts.selectors import filter_given
from accounts.timefmt import api_datetime

from .models import (
    DeliveryStatus,
    Issue,
    IssueStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookNotice,
)

_iso = api_datetime


# The columns issue_as_api reads (and the keyset): what the API loads, nothing more.
ISSUE_API_FIELDS = (
    "id",
    "created_at",
    "status",
    "error_description",
    "first_incident_time",
    "last_incident_time",
    "is_muted",
    "error_details",
    "linked_account__id",
    "linked_account__end_user_origin_id",
    "linked_account__end_user_organization_name",
    "linked_account__end_user_email_address",
)


def issue_as_api(*, issue: Issue, account: LinkedAccount | None = None) -> dict[str, Any]:
    """The Issue object exactly as GET /issues returns it (and every Issue.* webhook's `data`)."""
    account = account or issue.linked_account
    return {
        "id": str(issue.id),
        "status": issue.status,
        "error_description": issue.error_description,
        "end_user": {
            "id": str(account.id),
            "end_user_origin_id": account.end_user_origin_id,
            "end_user_organization_name": account.end_user_organization_name,
            "end_user_email_address": account.end_user_email_address,
        },
        "first_incident_time": _iso(issue.first_incident_time),
        "last_incident_time": _iso(issue.last_incident_time),
        "is_muted": issue.is_muted,
        "error_details": list(issue.error_details),
    }


def issues_for_organization(
    *,
    organization: Organization,
    account_type: str | None = None,
    status: str | None = None,
    include_muted: bool = True,
    linked_account_id: uuid.UUID | None = None,
    integration_name: str | None = None,
    end_user_organization_name: str | None = None,
    error_description: str | None = None,
    first_incident_time_after: datetime | None = None,
    first_incident_time_before: datetime | None = None,
    last_incident_time_after: datetime | None = None,
    last_incident_time_before: datetime | None = None,
) -> QuerySet[Issue]:
    """An organization's issues (unordered: the caller pages them), with the account joined.
    The API passes the key's environment as `account_type`; the dashboard may pass None."""
    qs = filter_given(
        Issue.objects.filter(organization=organization).select_related("linked_account"),
        account_type=account_type,
        status=status,
        linked_account_id=linked_account_id,
        linked_account__end_user_organization_name=end_user_organization_name,
        error_description=error_description,
        first_incident_time__gt=first_incident_time_after,
        first_incident_time__lt=first_incident_time_before,
        last_incident_time__gt=last_incident_time_after,
        last_incident_time__lt=last_incident_time_before,
    )
    if not include_muted:
        qs = qs.filter(is_muted=False)
    if integration_name:
        qs = qs.filter(linked_account__integration__in=catalog.slugs_for_name(integration_name))
    return qs


def issue_for_organization(
    *, organization: Organization, issue_id: uuid.UUID, account_type: str | None = None
) -> Issue | None:
    qs = Issue.objects.filter(organization=organization, id=issue_id).select_related("linked_account")
    if account_type:
        qs = qs.filter(account_type=account_type)
    return qs.first()


def issues_for_account(*, account: LinkedAccount, status: str | None = None) -> QuerySet[Issue]:
    """One account's issues, newest first (the account page)."""
    qs = Issue.objects.filter(linked_account=account).select_related("linked_account")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def issue_counts_for_organization(*, organization: Organization, account_type: str | None = None) -> dict:
    """Counts for the Issues tab's header: ongoing, ongoing and not muted, resolved."""
    qs = Issue.objects.filter(organization=organization)
    if account_type:
        qs = qs.filter(account_type=account_type)
    return qs.aggregate(
        ongoing=Count("id", filter=Q(status=IssueStatus.ONGOING)),
        ongoing_unmuted=Count("id", filter=Q(status=IssueStatus.ONGOING, is_muted=False)),
        resolved=Count("id", filter=Q(status=IssueStatus.RESOLVED)),
    )


# Webhooks


def webhook_endpoints_for_organization(*, organization: Organization) -> QuerySet[WebhookEndpoint]:
    return (
        WebhookEndpoint.objects.filter(organization=organization)
        .annotate(
            pending_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
        )
        .order_by("created_at")
    )


def webhook_endpoint_for_organization(
    *, organization: Organization, endpoint_id: uuid.UUID
) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(organization=organization, id=endpoint_id).first()


def webhook_endpoint_signature_key(*, endpoint: WebhookEndpoint) -> str:
    """The signature key, for showing to the operator of the endpoint's organization."""
    return decrypt_str(endpoint.signature_key_encrypted)


def webhook_deliveries_for_endpoint(
    *, endpoint: WebhookEndpoint, status: str | None = None
) -> QuerySet[WebhookDelivery]:
    qs = WebhookDelivery.objects.filter(endpoint=endpoint).defer("body")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def webhook_deliveries_for_organization(
    *, organization: Organization, status: str | None = None, event: str | None = None
) -> QuerySet[WebhookDelivery]:
    qs = WebhookDelivery.objects.filter(organization=organization).select_related("endpoint").defer("body")
    return filter_given(qs, status=status, event=event).order_by("-id")


def webhook_delivery_for_organization(
    *, organization: Organization, delivery_id: uuid.UUID
) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.filter(organization=organization, id=delivery_id)
        .select_related("endpoint")
        .first()
    )


def webhook_delivery_attempts(*, delivery: WebhookDelivery) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.filter(delivery=delivery).order_by("number")


def webhook_notices_for_organization(
    *, organization: Organization, include_acknowledged: bool = False
) -> QuerySet[WebhookNotice]:
    qs = WebhookNotice.objects.filter(organization=organization).select_related("endpoint")
    if not include_acknowledged:
        qs = qs.filter(acknowledged_at__isnull=True)
    return qs.order_by("-created_at")


def webhook_delivery_oldest_due_at(*, now: datetime) -> datetime | None:
    """When the longest-waiting due delivery became due (None: none is due). The head of the
    partial `whd_due` index: a few pages read, however many deliveries there are."""
    return (
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
