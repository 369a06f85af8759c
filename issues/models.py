"""Issues (what went wrong with a linked account) and webhooks (who hears about it)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.ids import uuid7
from accounts.models import AccountType, LinkedAccount, Organization


class ErrorDescription(models.TextChoices):
    INVALID_API_KEY = "Invalid API key"
    MISSING_PERMISSIONS = "Missing permissions"
    RATE_LIMITED = "Rate limited"
    THIRD_PARTY_OFFLINE = "Third-party offline"


# The failures only new credentials (a relink) can cure.
CREDENTIAL_ERRORS = (ErrorDescription.INVALID_API_KEY, ErrorDescription.MISSING_PERMISSIONS)


class IssueStatus(models.TextChoices):
    ONGOING = "ONGOING", "Ongoing"
    RESOLVED = "RESOLVED", "Resolved"


class Issue(models.Model):
    """One problem of one linked account. At most one ONGOING issue per (account,
    error_description); a repeat updates it, a failure after resolution reopens it."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="issues")
    linked_account = models.ForeignKey(LinkedAccount, on_delete=models.CASCADE, related_name="issues")
    # Copied from the account so the API's environment filter stays on one index.
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    error_description = models.CharField(max_length=64, choices=ErrorDescription.choices)
    status = models.CharField(max_length=10, choices=IssueStatus.choices, default=IssueStatus.ONGOING)
    first_incident_time = models.DateTimeField()
    last_incident_time = models.DateTimeField()
    occurrences = models.PositiveIntegerField(default=1)
    # The latest details, newest last; bounded by ISSUE_ERROR_DETAILS_MAX.
    error_details = models.JSONField(default=list, blank=True)
    is_muted = models.BooleanField(default=False)
    muted_at = models.DateTimeField(null=True, blank=True)
    muted_by = models.CharField(max_length=150, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.CharField(max_length=300, blank=True, default="")
    reopened_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["linked_account", "error_description"],
                condition=Q(status="ONGOING"),
                name="uniq_ongoing_issue",
            )
        ]
        indexes = [
            # Keyset pagination of GET /issues on (created_at, id) after the equality filters;
            # the partial ones serve the default list, which leaves muted issues out.
            models.Index(
                fields=["organization", "account_type", "created_at", "id"], name="issue_org_env_created"
            ),
            models.Index(
                fields=["organization", "account_type", "created_at", "id"],
                name="issue_org_env_unmuted",
                condition=Q(is_muted=False),
            ),
            models.Index(
                fields=["organization", "account_type", "status", "created_at", "id"],
                name="issue_org_env_status",
            ),
            models.Index(
                fields=["organization", "account_type", "status", "created_at", "id"],
                name="issue_org_env_status_unmuted",
                condition=Q(is_muted=False),
            ),
            models.Index(fields=["linked_account", "created_at"], name="issue_account_created"),
        ]

    def __str__(self) -> str:
        return f"{self.error_description} ({self.status}) on {self.linked_account_id}"


class WebhookEvent(models.TextChoices):
    LINKED = "LinkedAccount.linked"
    SYNC_COMPLETED = "LinkedAccount.sync_completed"
    DELETED = "LinkedAccount.deleted"
    STATUS_CHANGED = "LinkedAccount.status_changed"
    ISSUE_NEW = "Issue.new"
    ISSUE_REOPENED = "Issue.reopened"
    ISSUE_RESOLVED = "Issue.resolved"
    ISSUE_MUTED = "Issue.muted"
    CREDENTIALS_EXPIRING = "LinkedAccount.credentials_expiring"


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    events = models.JSONField(default=list, help_text="Subscribed event names")
    enabled = models.BooleanField(default=True)
    # Fernet-encrypted (accounts.crypto); shown to the operator, never logged or sent.
    signature_key_encrypted = models.TextField()
    key_rotated_at = models.DateTimeField(null=True, blank=True)
    # The key before the last rotation (encrypted likewise): it keeps signing beside the new one
    # for WEBHOOK_KEY_ROTATION_OVERLAP_HOURS after `key_rotated_at` (webhooks.signing_keys).
    previous_signature_key_encrypted = models.TextField(blank=True, default="")
    # When `url` last changed: events from before then that carry an account token are never
    # sent to the new URL (webhooks.account_tokens).
    url_changed_at = models.DateTimeField(null=True, blank=True)
    # Set by the first failed attempt after a success; an endpoint failing for
    # WEBHOOK_DISABLE_AFTER_HOURS is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "enabled"], name="whe_org_enabled")]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SUCCEEDED = "SUCCEEDED", "Delivered"
    FAILED = "FAILED", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint. Written in the transaction of the change that caused it;
    sent (and retried) by the worker; claimed by a conditional UPDATE of `claimed_until`."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    event = models.CharField(max_length=64, choices=WebhookEvent.choices)
    # No foreign key: a delivery about a deleted account outlives it.
    linked_account_uuid = models.UUIDField(null=True, blank=True)
    # The bytes every attempt sends (and signs), except that a LinkedAccount.linked body has a
    # placeholder where the account token goes, filled in at send time (webhooks.account_tokens).
    body = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    # Retries back off from `window_started_at` (creation, or the last redelivery) for at most
    # WEBHOOK_RETRY_WINDOW_HOURS; `window_attempts` drives the exponential delay.
    window_started_at = models.DateTimeField()
    window_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a send task was last put on the queue (the sweep re-queues stale ones).
    queued_at = models.DateTimeField(null=True, blank=True)
    # A worker's lease on the delivery while it sends.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at"], name="whd_due", condition=Q(status="PENDING")),
            models.Index(fields=["endpoint", "id"], name="whd_endpoint_id"),
            models.Index(fields=["organization", "id"], name="whd_org_id"),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


class AttemptOutcome(models.TextChoices):
    IN_FLIGHT = "IN_FLIGHT", "In flight"
    SUCCESS = "SUCCESS", "Success"
    TRANSIENT = "TRANSIENT", "Transient failure (retried)"
    PERMANENT = "PERMANENT", "Permanent failure"


class WebhookAttempt(models.Model):
    """One POST: written before the call, completed after it."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(
        max_length=10, choices=AttemptOutcome.choices, default=AttemptOutcome.IN_FLIGHT
    )
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    response_truncated = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["delivery", "number"], name="wha_delivery_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.outcome}"


class WebhookNotice(models.Model):
    """Something an operator must see (an endpoint was disabled), until acknowledged."""

    class Kind(models.TextChoices):
        ENDPOINT_DISABLED = "ENDPOINT_DISABLED", "Endpoint disabled"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_notices")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="notices"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "created_at"], name="whn_org_created")]

    def __str__(self) -> str:
        return self.message[:80]
