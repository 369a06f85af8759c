"""Webhook endpoints: create, update, rotate the signature key, delete; the URL and event checks."""

import base64
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from accounts.crypto import encrypt_str
from accounts.models import Organization
from outbound.addresses import host_refused

from ..models import WebhookEndpoint, WebhookEvent, WebhookNotice

ALL_EVENTS = [e.value for e in WebhookEvent]
_url_validator = URLValidator(schemes=["http", "https"])


def webhook_url_validate(url: str) -> str:
    """http(s) only, to a public address (outbound.addresses); loopback only when
    OUTBOUND_ALLOW_LOOPBACK (on in DEBUG and tests). Raises ValidationError with a plain reason."""
    url = (url or "").strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationError("The webhook URL must start with http:// or https://.", code="scheme")
    try:
        _url_validator(url)
    except ValidationError:
        raise ValidationError("Enter a valid http(s) URL for the webhook endpoint.", code="invalid")
    if host_refused(urlsplit(url).hostname or "", allow_loopback=settings.OUTBOUND_ALLOW_LOOPBACK):
        raise ValidationError(
            "The webhook URL points at a private or loopback address; use a public address.",
            code="private",
        )
    return url


def webhook_events_validate(events: Iterable[str] | None) -> list[str]:
    """Event names, checked against the contract's list; None or empty means every event."""
    if events is None:
        return list(ALL_EVENTS)
    names = [e.strip() for e in events if e and e.strip()]
    if not names:
        return list(ALL_EVENTS)
    unknown = sorted({n for n in names if n not in ALL_EVENTS})
    if unknown:
        raise ValidationError(
            f"Unknown webhook event(s): {', '.join(unknown)}. Known events: {', '.join(ALL_EVENTS)}.",
            code="unknown_event",
        )
    return [e for e in ALL_EVENTS if e in names]


def _new_signature_key() -> str:
    # "whsec_" + base64 secret: usable as is by Standard Webhooks libraries, and as the
    # plain HMAC key string for X-Merge-Webhook-Signature.
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_endpoint_create(
    *,
    organization: Organization,
    url: str,
    events: Iterable[str] | None = None,
    enabled: bool = True,
    description: str = "",
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signature key (also readable later by the organization's operators)."""
    url = webhook_url_validate(url)
    event_list = webhook_events_validate(events)
    key = _new_signature_key()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        url=url,
        events=event_list,
        enabled=enabled,
        description=description[:200],
        signature_key_encrypted=encrypt_str(key),
    )
    return endpoint, key


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: Iterable[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    fields = ["updated_at"]
    if url is not None:
        url = webhook_url_validate(url)
        if url != endpoint.url:
            endpoint.url_changed_at = timezone.now()
            fields.append("url_changed_at")
        endpoint.url = url
        fields.append("url")
    if events is not None:
        endpoint.events = webhook_events_validate(events)
        fields.append("events")
    if description is not None:
        endpoint.description = description[:200]
        fields.append("description")
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        fields.append("enabled")
        if enabled:
            # A fresh start: the failure clock begins again.
            endpoint.failing_since = None
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
            fields += ["failing_since", "disabled_at", "disabled_reason"]
        else:
            endpoint.disabled_at = timezone.now()
            endpoint.disabled_reason = "Disabled by an operator"
            fields += ["disabled_at", "disabled_reason"]
    endpoint.save(update_fields=fields)
    return endpoint


def webhook_endpoint_rotate_key(*, endpoint: WebhookEndpoint) -> str:
    """A new signature key. Every attempt from now on (retries too) is signed with it and, for
    WEBHOOK_KEY_ROTATION_OVERLAP_HOURS, with the key it replaces too (webhooks.signing_keys).
    A second rotation within the window drops the oldest key."""
    key = _new_signature_key()
    endpoint.previous_signature_key_encrypted = endpoint.signature_key_encrypted
    endpoint.signature_key_encrypted = encrypt_str(key)
    endpoint.key_rotated_at = timezone.now()
    endpoint.save(
        update_fields=[
            "signature_key_encrypted",
            "previous_signature_key_encrypted",
            "key_rotated_at",
            "updated_at",
        ]
    )
    return key


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def webhook_notice_acknowledge(*, notice: WebhookNotice) -> None:
    WebhookNotice.objects.filter(pk=notice.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now()
    )
