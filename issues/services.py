"""Writes for issues and webhooks.

Issues: `issue_record_failure` (open / repeat / reopen), `issues_resolve_for_account`,
`issue_mute` / `issue_unmute`. Webhooks: endpoints (create, update, rotate the key, delete),
`webhook_event_emit` (one delivery row per subscribed endpoint, in the caller's transaction),
`webhook_deliveries_send` (a batch of POSTs, called by the send task), the retry schedule, redelivery,
the re-queue sweep, and the consumer of the accounts status-history outbox.
"""

import base64
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.crypto import decrypt_str, encrypt_str
from accounts.models import HistoryStatus, LinkedAccount, LinkedAccountStatusChange, Organization
from accounts.selectors import linked_account_details

from . import sender
from .models import (
    AttemptOutcome,
    DeliveryStatus,
    ErrorDescription,
    Issue,
    IssueStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookNotice,
)
from .selectors import issue_as_api

logger = logging.getLogger(__name__)

ERROR_DETAIL_MAX_CHARS = 500


# Issues


def _append_detail(details: list[str], detail: str) -> list[str]:
    limit = max(1, settings.ISSUE_ERROR_DETAILS_MAX)
    details = [*details, detail[:ERROR_DETAIL_MAX_CHARS]]
    return details[-limit:]


def issue_record_failure(*, account: LinkedAccount, error_description: str, detail: str) -> Issue:
    """A failure of `account`: opens an issue (Issue.new), updates the ONGOING one (a repeat:
    last_incident_time, occurrences, error_details), or reopens the latest RESOLVED one
    (Issue.reopened). A muted issue is updated quietly. Runs inside the caller's transaction."""
    error_description = ErrorDescription(error_description).value  # ValueError on unknown values
    with transaction.atomic():
        # One writer per account at a time, so two failures never open two ONGOING issues.
        LinkedAccount.objects.select_for_update().filter(pk=account.pk).values_list("pk").first()
        now = timezone.now()
        issue = (
            Issue.objects.select_for_update()
            .filter(linked_account=account, error_description=error_description)
            .order_by("status", "-id")  # the ONGOING one, else the latest RESOLVED one
            .first()
        )
        if issue is not None and issue.status == IssueStatus.ONGOING:
            issue.last_incident_time = now
            issue.occurrences += 1
            issue.error_details = _append_detail(issue.error_details, detail)
            issue.save(update_fields=["last_incident_time", "occurrences", "error_details"])
            return issue
        if issue is not None:
            issue.status = IssueStatus.ONGOING
            issue.last_incident_time = now
            issue.occurrences += 1
            issue.error_details = _append_detail(issue.error_details, detail)
            issue.resolved_at = None
            issue.resolution_reason = ""
            issue.reopened_count += 1
            issue.save()
            event = WebhookEvent.ISSUE_REOPENED
        else:
            issue = Issue.objects.create(
                organization_id=account.organization_id,
                linked_account=account,
                account_type=account.account_type,
                error_description=error_description,
                first_incident_time=now,
                last_incident_time=now,
                error_details=_append_detail([], detail),
            )
            event = WebhookEvent.ISSUE_NEW
        if not issue.is_muted:
            _emit_issue_event(issue=issue, account=account, event=event)
    return issue


def issues_resolve_for_account(
    *, account: LinkedAccount, reason: str, error_descriptions: Iterable[str] | None = None
) -> int:
    """Resolve the account's ONGOING issues (all, or those with these descriptions); each fires
    Issue.resolved (unless muted). Returns how many were resolved."""
    now = timezone.now()
    with transaction.atomic():
        qs = Issue.objects.select_for_update().filter(linked_account=account, status=IssueStatus.ONGOING)
        if error_descriptions is not None:
            qs = qs.filter(error_description__in=[ErrorDescription(d).value for d in error_descriptions])
        issues = list(qs.order_by("id"))
        for issue in issues:
            issue.status = IssueStatus.RESOLVED
            issue.resolved_at = now
            issue.resolution_reason = reason[:300]
            issue.save(update_fields=["status", "resolved_at", "resolution_reason"])
            if not issue.is_muted:
                _emit_issue_event(issue=issue, account=account, event=WebhookEvent.ISSUE_RESOLVED)
    return len(issues)


def issue_mute(*, issue: Issue, muted_by: str = "") -> Issue:
    """Mute an issue: left out of GET /issues by default, no more Issue.* events but this one."""
    with transaction.atomic():
        updated = Issue.objects.filter(pk=issue.pk, is_muted=False).update(
            is_muted=True, muted_at=timezone.now(), muted_by=muted_by[:150]
        )
        issue.refresh_from_db()
        if updated:
            _emit_issue_event(issue=issue, account=issue.linked_account, event=WebhookEvent.ISSUE_MUTED)
    return issue


def issue_unmute(*, issue: Issue) -> Issue:
    Issue.objects.filter(pk=issue.pk).update(is_muted=False, muted_at=None, muted_by="")
    issue.refresh_from_db()
    return issue


def _emit_issue_event(*, issue: Issue, account: LinkedAccount, event: str) -> None:
    webhook_event_emit(
        organization=account.organization,
        event=event,
        account_details=linked_account_details(account=account),
        data=issue_as_api(issue=issue, account=account),
    )


# Webhook endpoints

ALL_EVENTS = [e.value for e in WebhookEvent]
_url_validator = URLValidator(schemes=["http", "https"])


def webhook_url_validate(url: str) -> str:
    """http(s) only; a private, loopback or link-local host only when WEBHOOK_ALLOW_PRIVATE_URLS
    (on in DEBUG and tests). Raises ValidationError with a plain reason."""
    url = (url or "").strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationError("The webhook URL must start with http:// or https://.", code="scheme")
    try:
        _url_validator(url)
    except ValidationError:
        raise ValidationError("Enter a valid http(s) URL for the webhook endpoint.", code="invalid")
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        host = urlsplit(url).hostname or ""
        if host == "localhost" or host.endswith(".localhost") or sender.address_is_private(host):
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
        endpoint.url = webhook_url_validate(url)
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
    """A new signature key; every attempt from now on (retries too) is signed with it."""
    key = _new_signature_key()
    endpoint.signature_key_encrypted = encrypt_str(key)
    endpoint.key_rotated_at = timezone.now()
    endpoint.save(update_fields=["signature_key_encrypted", "key_rotated_at", "updated_at"])
    return key


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def webhook_notice_acknowledge(*, notice: WebhookNotice) -> None:
    WebhookNotice.objects.filter(pk=notice.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now()
    )


# Emitting events


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False, default=str)


def webhook_event_emit(
    *, organization: Organization, event: str, account_details: dict, data: dict
) -> list[WebhookDelivery]:
    """One delivery row per enabled endpoint of `organization` subscribed to `event`, written in
    the caller's transaction; each send is queued when that transaction commits."""
    event = WebhookEvent(event).value  # ValueError on unknown events: a programming error
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(organization=organization, enabled=True)
        if event in e.events
    ]
    if not endpoints:
        return []
    now = timezone.now()
    account_id = account_details.get("id")
    deliveries = []
    for endpoint in endpoints:
        delivery = WebhookDelivery(
            endpoint=endpoint,
            organization=organization,
            event=event,
            linked_account_uuid=uuid.UUID(str(account_id)) if account_id else None,
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
        deliveries.append(delivery)
    WebhookDelivery.objects.bulk_create(deliveries)
    _queue_sends_on_commit([str(d.id) for d in deliveries])
    return deliveries


def _queue_sends(delivery_ids: list[str], countdown: float | None = None) -> None:
    """Put send tasks on the queue, WEBHOOK_SEND_BATCH_SIZE ids a message. A broker outage is
    logged, not raised: the rows are in the database and the sweep queues them again."""
    from . import tasks

    size = max(1, settings.WEBHOOK_SEND_BATCH_SIZE)
    for start in range(0, len(delivery_ids), size):
        chunk = delivery_ids[start : start + size]
        try:
            tasks.deliver_webhooks.apply_async(args=[chunk], countdown=countdown or None)
        except Exception:
            logger.warning("could not queue %d webhook deliveries; the sweep will retry", len(chunk))


class _SendsOnCommit:
    """The deliveries that the current transaction queues, sent as few messages when it commits:
    one transaction that emits many events (the status-history consumer, a bulk action) makes
    a handful of task messages, not one per delivery."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self) -> None:
        _queue_sends(self.ids)


def _queue_sends_on_commit(delivery_ids: list[str]) -> None:
    conn = transaction.get_connection()
    if conn.in_atomic_block:
        # Join the batch already waiting on this transaction's commit, if it is still there (a
        # rolled-back savepoint takes its hooks with it; ids of rolled-back rows in a batch only
        # make the task find nothing to claim for them).
        for _savepoints, hook, _robust in conn.run_on_commit:
            if isinstance(hook, _SendsOnCommit):
                hook.ids.extend(delivery_ids)
                return
        batch = _SendsOnCommit()
        batch.ids.extend(delivery_ids)
        transaction.on_commit(batch)
    else:
        _queue_sends(delivery_ids)


# Sending


def _retry_delay(*, window_attempts: int) -> float:
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * (2 ** max(0, window_attempts - 1))
    delay = min(settings.WEBHOOK_RETRY_MAX_DELAY_SECONDS, base)
    return delay * (1 + random.uniform(0, settings.WEBHOOK_RETRY_JITTER))


def _attempt_budget_seconds() -> float:
    # The most one attempt can take: connect + the total budget + the last read.
    return (
        settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS
        + settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS
        + settings.WEBHOOK_READ_TIMEOUT_SECONDS
    )


def _lease_until(now: datetime) -> datetime:
    # Longer than one attempt can take, so a live worker never loses its claim; a dead worker's
    # claim lapses and the sweep re-queues it. A batch sends while one more attempt still fits.
    budget = _attempt_budget_seconds()
    return now + timedelta(seconds=budget + min(5.0, budget))


# Rows that another worker is claiming right now are skipped, not waited for: they are its.
_CLAIM_SQL = """
WITH due AS (
    SELECT id FROM issues_webhookdelivery
     WHERE id = ANY(%s) AND status = 'PENDING' AND next_attempt_at <= %s
       AND (claimed_until IS NULL OR claimed_until < %s)
       FOR UPDATE SKIP LOCKED
)
UPDATE issues_webhookdelivery AS d
   SET claimed_until = %s, attempt_count = d.attempt_count + 1, window_attempts = d.window_attempts + 1
  FROM due, issues_webhookendpoint AS e
 WHERE d.id = due.id AND e.id = d.endpoint_id
RETURNING d.id, d.body, d.attempt_count, d.window_attempts, d.window_started_at, d.organization_id,
          e.id, e.url, e.enabled, e.signature_key_encrypted, e.failing_since, e.last_success_at
"""


def _claim_and_load(
    *, delivery_ids: list[uuid.UUID], now: datetime, lease: datetime
) -> list[WebhookDelivery]:
    """Claim the due, unclaimed ones of `delivery_ids` by a conditional UPDATE and load them with
    their endpoints, in the order asked. One round trip on PostgreSQL."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, [delivery_ids, now, now, lease])
            rows = cursor.fetchall()
        endpoints: dict[uuid.UUID, WebhookEndpoint] = {}
        claimed: dict[uuid.UUID, WebhookDelivery] = {}
        for row in rows:
            delivery_id, body, attempts, window_attempts, window_started_at, organization_id = row[:6]
            endpoint = endpoints.get(row[6])
            if endpoint is None:
                endpoint = endpoints[row[6]] = WebhookEndpoint(
                    id=row[6],
                    organization_id=organization_id,
                    url=row[7],
                    enabled=row[8],
                    signature_key_encrypted=row[9],
                    failing_since=row[10],
                    last_success_at=row[11],
                )
            claimed[delivery_id] = WebhookDelivery(
                id=delivery_id,
                endpoint=endpoint,
                organization_id=organization_id,
                body=body,
                attempt_count=attempts,
                window_attempts=window_attempts,
                window_started_at=window_started_at,
                claimed_until=lease,
            )
        return [claimed[i] for i in delivery_ids if i in claimed]
    deliveries = []
    for delivery_id in delivery_ids:
        updated = (
            WebhookDelivery.objects.filter(
                pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
            )
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(
                claimed_until=lease,
                attempt_count=F("attempt_count") + 1,
                window_attempts=F("window_attempts") + 1,
            )
        )
        if updated:
            deliveries.append(WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id))
    return deliveries


# Successes are written together, at most this long after the first of them was sent: a worker
# that dies mid-batch makes receivers see again only the sends of its last few milliseconds.
_SUCCESS_WRITE_WINDOW_SECONDS = 0.025


def webhook_deliveries_send(*, delivery_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Claim the due ones of `delivery_ids`, POST each once, record every attempt and schedule
    what comes next. Returns the outcome of each delivery sent; ids that were not ours to send
    (already sent, not due, claimed by another worker) are left out: running twice is harmless.

    One claim, one insert of the attempt rows and one write of the successes serve the whole
    batch. Deliveries are sent one after another while one more attempt still fits in the
    claim's lease; what is left then is handed back and queued again, so a slow receiver never
    lets a claim lapse under a live worker."""
    ids = list(dict.fromkeys(delivery_ids))
    now = timezone.now()
    lease = _lease_until(now)
    started = time.monotonic()
    deliveries = _claim_and_load(delivery_ids=ids, now=now, lease=lease)
    outcomes: dict[uuid.UUID, str] = {}
    disabled = [d.pk for d in deliveries if not d.endpoint.enabled]
    if disabled:
        WebhookDelivery.objects.filter(pk__in=disabled).update(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            claimed_until=None,
            last_error="Endpoint disabled",
            attempt_count=F("attempt_count") - 1,
        )
        outcomes.update(dict.fromkeys(disabled, AttemptOutcome.PERMANENT))
        deliveries = [d for d in deliveries if d.endpoint.enabled]
    if not deliveries:
        return outcomes
    retried = [d.pk for d in deliveries if d.attempt_count > 1]
    if retried:
        # An attempt still "in flight" from an earlier claim belonged to a worker that died.
        WebhookAttempt.objects.filter(delivery_id__in=retried, outcome=AttemptOutcome.IN_FLIGHT).update(
            outcome=AttemptOutcome.TRANSIENT, error="The worker stopped during this attempt"
        )
    attempts = WebhookAttempt.objects.bulk_create(
        [WebhookAttempt(delivery=d, number=d.attempt_count, started_at=now) for d in deliveries]
    )
    keys: dict[uuid.UUID, str] = {}
    successes: list[tuple[WebhookDelivery, WebhookAttempt, sender.SendResult]] = []
    first_success = 0.0
    budget = _attempt_budget_seconds()
    lease_seconds = (lease - now).total_seconds()
    for index, (delivery, attempt) in enumerate(zip(deliveries, attempts, strict=True)):
        if index and time.monotonic() - started + budget > lease_seconds:
            _record_successes(successes)
            _release_claims(deliveries=deliveries[index:], attempts=attempts[index:], lease=lease)
            break
        endpoint = delivery.endpoint
        if endpoint.pk not in keys:
            keys[endpoint.pk] = decrypt_str(endpoint.signature_key_encrypted)
        headers = sender.signed_headers(
            signature_key=keys[endpoint.pk],
            message_id=str(delivery.id),
            body=delivery.body,
            at=timezone.now(),
        )
        result = sender.send(url=endpoint.url, body=delivery.body, headers=headers)
        outcomes[delivery.pk] = result.outcome
        if result.outcome == AttemptOutcome.SUCCESS and connection.vendor == "postgresql":
            successes.append((delivery, attempt, result))
            if len(successes) == 1:
                first_success = time.monotonic()
            elif time.monotonic() - first_success >= _SUCCESS_WRITE_WINDOW_SECONDS:
                _record_successes(successes)
        else:
            _record_successes(successes)  # in order: the endpoint's state follows the sends
            _record_result(delivery=delivery, attempt=attempt, result=result)
    _record_successes(successes)
    return outcomes


def webhook_delivery_attempt(*, delivery_id: uuid.UUID) -> str | None:
    """Send one delivery (see `webhook_deliveries_send`): its outcome, or None when it was not
    ours to send."""
    return webhook_deliveries_send(delivery_ids=[delivery_id]).get(delivery_id)


def _release_claims(
    *, deliveries: list[WebhookDelivery], attempts: list[WebhookAttempt], lease: datetime
) -> None:
    """Hand back claimed deliveries that this batch will not send: unclaimed, their counts as
    they were, their unstarted attempt rows gone; then queued again."""
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        WebhookAttempt.objects.filter(pk__in=[a.pk for a in attempts]).delete()
        WebhookDelivery.objects.filter(pk__in=ids, claimed_until=lease).update(
            claimed_until=None,
            attempt_count=F("attempt_count") - 1,
            window_attempts=F("window_attempts") - 1,
            queued_at=timezone.now(),
        )
    _queue_sends([str(i) for i in ids])


_SUCCESSES_SQL = """
WITH r AS (
    SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::integer[], %s::integer[], %s::text[], %s::boolean[])
        AS r(attempt_id, delivery_id, duration_ms, status_code, response_body, response_truncated)
), attempts AS (
    UPDATE issues_webhookattempt AS a
       SET duration_ms = r.duration_ms, outcome = 'SUCCESS', status_code = r.status_code,
           response_body = r.response_body, response_truncated = r.response_truncated, error = ''
      FROM r
     WHERE a.id = r.attempt_id
)
UPDATE issues_webhookdelivery AS d
   SET claimed_until = NULL, last_status_code = r.status_code, last_error = '', status = 'SUCCEEDED',
       delivered_at = %s, next_attempt_at = NULL
  FROM r
 WHERE d.id = r.delivery_id
"""


def _endpoint_needs_success_update(endpoint: WebhookEndpoint, now: datetime) -> bool:
    # last_success_at is kept to the minute: not one endpoint-row write per delivery.
    return (
        endpoint.failing_since is not None
        or endpoint.last_success_at is None
        or now - endpoint.last_success_at > timedelta(minutes=1)
    )


def _endpoint_record_success(*, endpoint: WebhookEndpoint, now: datetime) -> None:
    if _endpoint_needs_success_update(endpoint, now):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None, last_success_at=now)
        endpoint.failing_since, endpoint.last_success_at = None, now


def _record_successes(successes: list[tuple[WebhookDelivery, WebhookAttempt, sender.SendResult]]) -> None:
    """Complete successful attempts and their deliveries in one round trip (PostgreSQL), then
    the endpoints they went to. Two writes that need no joint commit: a crash between them only
    means one more send, which at-least-once allows. Empties `successes`."""
    if not successes:
        return
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _SUCCESSES_SQL,
            [
                [a.pk for _, a, _ in successes],
                [d.pk for d, _, _ in successes],
                [r.duration_ms for _, _, r in successes],
                [r.status_code for _, _, r in successes],
                [r.response_body for _, _, r in successes],
                [r.response_truncated for _, _, r in successes],
                now,
            ],
        )
    for endpoint in {id(d.endpoint): d.endpoint for d, _, _ in successes}.values():
        _endpoint_record_success(endpoint=endpoint, now=now)
    successes.clear()


def _record_result(*, delivery: WebhookDelivery, attempt: WebhookAttempt, result: sender.SendResult) -> None:
    """Record one attempt's result and schedule what comes next (failures; successes where the
    batched write is not used)."""
    now = timezone.now()
    endpoint = delivery.endpoint
    succeeded = result.outcome == AttemptOutcome.SUCCESS
    requeue_in: float | None = None
    # A failure also touches the endpoint: one transaction.
    with nullcontext() if succeeded else transaction.atomic():
        attempt.duration_ms = result.duration_ms
        attempt.outcome = result.outcome
        attempt.status_code = result.status_code
        attempt.response_body = result.response_body
        attempt.response_truncated = result.response_truncated
        attempt.error = result.error[:500]
        attempt.save(
            update_fields=[
                "duration_ms",
                "outcome",
                "status_code",
                "response_body",
                "response_truncated",
                "error",
            ]
        )
        fields: dict[str, Any] = {
            "claimed_until": None,
            "last_status_code": result.status_code,
            "last_error": result.error[:500],
        }
        if result.outcome == AttemptOutcome.SUCCESS:
            fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=now, next_attempt_at=None)
        elif result.outcome == AttemptOutcome.PERMANENT:
            fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        else:
            deadline = delivery.window_started_at + timedelta(hours=settings.WEBHOOK_RETRY_WINDOW_HOURS)
            if now >= deadline:
                fields.update(
                    status=DeliveryStatus.FAILED,
                    next_attempt_at=None,
                    last_error=f"Gave up after {settings.WEBHOOK_RETRY_WINDOW_HOURS:g} h: {result.error}"[
                        :500
                    ],
                )
            else:
                delay = _retry_delay(window_attempts=delivery.window_attempts)
                if result.retry_after_seconds is not None:
                    delay = result.retry_after_seconds
                next_at = min(now + timedelta(seconds=delay), deadline)
                requeue_in = max(0.0, (next_at - now).total_seconds())
                # Short waits ride on a countdown task; long ones are left to the sweep (a broker
                # holding an ETA task for hours redelivers it after its visibility timeout).
                short = requeue_in <= settings.WEBHOOK_REQUEUE_AFTER_SECONDS * 5
                fields.update(next_attempt_at=next_at, queued_at=next_at if short else None)
                if not short:
                    requeue_in = None
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
        if succeeded:
            _endpoint_record_success(endpoint=endpoint, now=now)
        else:
            _endpoint_record_failure(endpoint=endpoint, now=now)
    if requeue_in is not None:
        ids = [str(delivery.id)]
        transaction.on_commit(lambda: _queue_sends(ids, countdown=requeue_in or None))


def _endpoint_record_failure(*, endpoint: WebhookEndpoint, now: datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    endpoint.failing_since = endpoint.failing_since or now
    cutoff = now - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True, failing_since__lte=cutoff).update(
        enabled=False,
        disabled_at=now,
        disabled_reason=f"Every delivery failed for {settings.WEBHOOK_DISABLE_AFTER_HOURS:g} hours",
    )
    if disabled:
        WebhookNotice.objects.create(
            organization_id=endpoint.organization_id,
            endpoint=endpoint,
            kind=WebhookNotice.Kind.ENDPOINT_DISABLED,
            message=(
                f"The webhook endpoint {endpoint.url} was disabled: every delivery to it failed for "
                f"{settings.WEBHOOK_DISABLE_AFTER_HOURS:g} hours. Fix the receiver, enable the endpoint "
                "again and redeliver the failed deliveries."
            ),
        )
        logger.warning(
            "webhook endpoint %s disabled after failing since %s", endpoint.pk, endpoint.failing_since
        )


def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (same body and webhook-id, so receivers can drop duplicates),
    with a fresh retry window. Refused while it is being sent."""
    now = timezone.now()
    with transaction.atomic():
        updated = (
            WebhookDelivery.objects.filter(pk=delivery.pk)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                queued_at=now,
                window_started_at=now,
                window_attempts=0,
                claimed_until=None,
            )
        )
        if not updated:
            raise ValidationError("This delivery is being sent right now; try again in a moment.")
        _queue_sends_on_commit([str(delivery.pk)])
    delivery.refresh_from_db()
    return delivery


def webhook_deliveries_requeue_due(*, limit: int = 1000) -> int:
    """The sweep: due, unclaimed deliveries whose send task is missing (never queued, lost with
    a broker or worker restart) are queued again. Returns how many."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_REQUEUE_AFTER_SECONDS)
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=stale))
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    # Mark them queued first (conditionally), so two sweeps never queue the same rows twice.
    claimed = []
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        with transaction.atomic():
            rows = list(
                WebhookDelivery.objects.select_for_update(skip_locked=True)
                .filter(pk__in=chunk, status=DeliveryStatus.PENDING)
                .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=stale))
                .values_list("id", flat=True)
            )
            WebhookDelivery.objects.filter(pk__in=rows).update(queued_at=now)
        claimed += rows
    _queue_sends([str(i) for i in claimed])
    return len(claimed)


def _uuid7_floor(at: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of that millisecond: ids below it were made earlier (a primary-key
    range instead of a scan on created_at)."""
    ms = int(at.timestamp() * 1000)
    return uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62))


def webhook_deliveries_prune(*, older_than_days: int | None = None, batch_size: int = 5000) -> int:
    """Forget finished deliveries (and their attempts) older than WEBHOOK_DELIVERY_RETENTION_DAYS;
    pending ones are kept whatever their age. Returns how many were deleted."""
    days = settings.WEBHOOK_DELIVERY_RETENTION_DAYS if older_than_days is None else older_than_days
    boundary = _uuid7_floor(timezone.now() - timedelta(days=days))
    deleted = 0
    while True:
        ids = list(
            WebhookDelivery.objects.filter(pk__lt=boundary)
            .exclude(status=DeliveryStatus.PENDING)
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        WebhookAttempt.objects.filter(delivery_id__in=ids).delete()
        WebhookDelivery.objects.filter(pk__in=ids).delete()
        deleted += len(ids)


# The status-history outbox (accounts.LinkedAccountStatusChange)


def status_changes_process(*, change_ids: Iterable[int] | None = None, limit: int = 500) -> int:
    """Turn unprocessed status-history rows into LinkedAccount.status_changed / .deleted
    deliveries. Rows are claimed with skip_locked and marked in the same transaction as the
    deliveries they produce, so each becomes its webhooks exactly once. Creation rows (no
    from-status) produce nothing. Returns how many rows were processed."""
    with transaction.atomic():
        qs = LinkedAccountStatusChange.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            processed_at__isnull=True
        )
        if change_ids is not None:
            qs = qs.filter(pk__in=list(change_ids))
        changes = list(qs.select_related("organization").order_by("id")[:limit])
        if not changes:
            return 0
        processed = []
        for change in changes:
            if change.from_status:
                _emit_status_change(change=change)
            processed.append(change.pk)
        LinkedAccountStatusChange.objects.filter(pk__in=processed, processed_at__isnull=True).update(
            processed_at=timezone.now()
        )
    return len(processed)


def _emit_status_change(*, change: LinkedAccountStatusChange) -> None:
    details = dict(change.account_snapshot) or {"id": str(change.linked_account_uuid)}
    if change.to_status == HistoryStatus.DELETED:
        webhook_event_emit(
            organization=change.organization,
            event=WebhookEvent.DELETED,
            account_details=details,
            data={"reason": change.reason, "deleted_at": change.at.isoformat()},
        )
        return
    details["status"] = change.to_status
    webhook_event_emit(
        organization=change.organization,
        event=WebhookEvent.STATUS_CHANGED,
        account_details=details,
        data={"from": change.from_status, "to": change.to_status, "reason": change.reason},
    )


def status_change_listener(change_ids: list[int]) -> None:
    """Registered with accounts.outbox: runs after the change commits. Failure here is logged;
    the beat sweep processes whatever is left."""
    try:
        status_changes_process(change_ids=change_ids)
    except Exception:
        logger.exception("status-change outbox: processing %s failed; the sweep will retry", change_ids)


def webhook_endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test delivery to this one endpoint (the operator's "send a test event"): a
    LinkedAccount.status_changed event about a made-up account, marked `"test": true`,
    signed, recorded and retried like any other delivery."""
    if not endpoint.enabled:
        raise ValidationError("This endpoint is disabled: enable it to send a test event.", code="disabled")
    now = timezone.now()
    event = WebhookEvent.STATUS_CHANGED.value
    delivery = WebhookDelivery(
        endpoint=endpoint,
        organization_id=endpoint.organization_id,
        event=event,
        linked_account_uuid=None,
        window_started_at=now,
        next_attempt_at=now,
        queued_at=now,
        created_at=now,
        body="",
    )
    delivery.body = _dumps(
        {
            "hook": {"id": str(delivery.id), "event": event, "target": endpoint.url},
            "linked_account": {
                "id": "00000000-0000-0000-0000-000000000000",
                "integration": "Sandbox",
                "integration_slug": "sandbox",
                "category": "hris",
                "end_user_origin_id": "test-origin-id",
                "end_user_organization_name": "Test end user",
                "end_user_email_address": "test@example.com",
                "status": "COMPLETE",
                "webhook_listener_url": "",
                "is_duplicate": None,
                "account_type": "TEST",
                "completed_at": now.isoformat(),
            },
            "data": {"from": "RELINK_NEEDED", "to": "COMPLETE", "reason": "Test event", "test": True},
        }
    )
    with transaction.atomic():
        delivery.save(force_insert=True)
        _queue_sends_on_commit([str(delivery.id)])
    return delivery
