"""Emitting webhook events: one delivery row per subscribed endpoint, written in the caller's
transaction, and the payloads (`{"hook", "linked_account", "data"}`)."""

import functools
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from accounts.timefmt import api_datetime

from ..models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from . import account_tokens
from .queue import queue_sends_on_commit


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False, default=str)


def _new_delivery(
    *,
    endpoint: WebhookEndpoint,
    event: str,
    account_uuid: uuid.UUID | None,
    account_details: dict,
    data: dict,
    now: datetime,
) -> WebhookDelivery:
    """An unsaved delivery, due now, whose body is the payload:
    `{"hook": {id, event, target}, "linked_account": {...}, "data": {...}}`."""
    delivery = WebhookDelivery(
        endpoint=endpoint,
        organization_id=endpoint.organization_id,
        event=event,
        linked_account_uuid=account_uuid,
        window_started_at=now,
        next_attempt_at=now,
        queued_at=now,
        created_at=now,
        body="",
    )
    delivery.body = _dumps(
        {
            "hook": {"id": str(delivery.id), "event": event, "target": endpoint.url},
            "linked_account": account_details,
            "data": data,
        }
    )
    return delivery


def _enabled_endpoints(organization: Organization) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.filter(organization=organization, enabled=True))


def webhook_endpoints_once(organization: Organization) -> Callable[[], list[WebhookEndpoint]]:
    """The organization's enabled endpoints, read on first use only: for a transaction that may
    emit several events (or none)."""
    return functools.cache(lambda: _enabled_endpoints(organization))


def webhook_event_emit(
    *,
    organization: Organization,
    event: WebhookEvent,
    account_details: dict,
    data: dict,
    with_account_token: bool = False,
    endpoints: Callable[[], list[WebhookEndpoint]] | None = None,
) -> list[WebhookDelivery]:
    """One delivery row per enabled endpoint of `organization` subscribed to `event`, written in
    the caller's transaction; each send is queued when that transaction commits.

    `with_account_token`: `data.account_token` carries the account's token, which is filled in
    at send time and never stored (webhooks.account_tokens). `endpoints`: the caller's
    `webhook_endpoints_once(organization)`, so that several events of one transaction read the
    organization's endpoints once."""
    event = WebhookEvent(event).value  # ValueError on a name outside the enum: a programming error
    if with_account_token:
        data = {**data, "account_token": account_tokens.PLACEHOLDER}
    enabled = endpoints() if endpoints is not None else _enabled_endpoints(organization)
    endpoints_for_event = [e for e in enabled if event in e.events]
    if not endpoints_for_event:
        return []
    now = timezone.now()
    account_id = account_details.get("id")
    account_uuid = uuid.UUID(str(account_id)) if account_id else None
    deliveries = [
        _new_delivery(
            endpoint=endpoint,
            event=event,
            account_uuid=account_uuid,
            account_details=account_details,
            data=data,
            now=now,
        )
        for endpoint in endpoints_for_event
    ]
    WebhookDelivery.objects.bulk_create(deliveries)
    queue_sends_on_commit([str(d.id) for d in deliveries])
    return deliveries


def _test_account(now: datetime) -> dict:
    """A made-up account for test events: its id is all zeros, so no receiver mistakes it for a real one."""
    return {
        "id": "00000000-0000-0000-0000-000000000000",
        "integration": "Sandbox",
        "integration_slug": "sandbox",
        "category": "hris",
        "end_user_origin_id": "test-origin-id",
        "end_user_organization_name": "Test end user",
        "end_user_email_address": "test@example.com",
        "status": "COMPLETE",
        "is_duplicate": None,
        "account_type": "TEST",
        "completed_at": api_datetime(now),
    }


def webhook_endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test delivery to this one endpoint (the operator's "send a test event"): a
    LinkedAccount.status_changed event about a made-up account, marked `"test": true`,
    signed, recorded and retried like any other delivery."""
    if not endpoint.enabled:
        raise ValidationError("This endpoint is disabled: enable it to send a test event.", code="disabled")
    now = timezone.now()
    delivery = _new_delivery(
        endpoint=endpoint,
        event=WebhookEvent.STATUS_CHANGED.value,
        account_uuid=None,  # about no real account
        account_details=_test_account(now),
        data={"from": "RELINK_NEEDED", "to": "COMPLETE", "reason": "Test event", "test": True},
        now=now,
    )
    with transaction.atomic():
        delivery.save(force_insert=True)
        queue_sends_on_commit([str(delivery.id)])
    return delivery
