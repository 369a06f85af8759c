from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from .ids import uuid7


class Category(models.TextChoices):
    HRIS = "hris", "HRIS"
    ATS = "ats", "ATS"
    CRM = "crm", "CRM"
    ACCOUNTING = "accounting", "Accounting"
    TICKETING = "ticketing", "Ticketing"
    FILESTORAGE = "filestorage", "File storage"


class AccountType(models.TextChoices):
    PRODUCTION = "PRODUCTION", "Production"
    TEST = "TEST", "Test"


class LinkedAccountStatus(models.TextChoices):
    COMPLETE = "COMPLETE", "Complete"
    INCOMPLETE = "INCOMPLETE", "Incomplete"
    RELINK_NEEDED = "RELINK_NEEDED", "Relink needed"
    IDLE = "IDLE", "Idle"


# What a status-history row can name: the account statuses, plus DELETED.
HistoryStatus = models.TextChoices(
    "HistoryStatus",
    [(status.name, (status.value, status.label)) for status in LinkedAccountStatus]
    + [("DELETED", ("DELETED", "Deleted"))],
)


class SyncFrequency(models.TextChoices):
    EVERY_5_MINUTES = "5m", "Every 5 minutes"
    HOURLY = "1h", "Hourly"
    DAILY = "24h", "Daily"
    MANUAL = "manual", "Manual only"


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    default_sync_frequency = models.CharField(
        max_length=8, choices=SyncFrequency.choices, default=SyncFrequency.HOURLY
    )
    # Shown to the end user when a relink fails again.
    relink_support_text = models.TextField(
        blank=True, default="Please contact your administrator or our support team."
    )
    # Days between relink reminder e-mails for accounts that stay RELINK_NEEDED; null = off.
    relink_reminder_days = models.PositiveIntegerField(null=True, blank=True)
    # Origins (scheme://host[:port], accounts.origins) allowed to embed the link page: its CSP
    # frame-ancestors and the only targets of its postMessage. Empty: nobody.
    embedding_origins = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """An operator (a Django user) who may see an organization in the dashboard."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization}"


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    environment = models.CharField(max_length=10, choices=AccountType.choices)
    name = models.CharField(max_length=100, blank=True)
    # The first characters, to tell keys apart in the dashboard; the key itself is never stored.
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.environment})"


class LinkedAccount(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # No index of its own: every index below starts with organization_id, and each index is one
    # more write whenever an indexed column changes (every finished run moves next_sync_at).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="linked_accounts", db_index=False
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    integration = models.CharField(max_length=64, help_text="Integration slug")
    end_user_origin_id = models.CharField(max_length=255)
    end_user_organization_name = models.CharField(max_length=255)
    end_user_email_address = models.EmailField(max_length=255)
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    status = FSMField(
        max_length=16,
        choices=LinkedAccountStatus.choices,
        default=LinkedAccountStatus.INCOMPLETE,
        protected=True,
    )
    webhook_listener_url = models.URLField(blank=True, default="")
    is_duplicate = models.BooleanField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Why an INCOMPLETE account is not linked yet (its latest failed link attempt); the API's
    # status_detail. Other statuses explain themselves.
    status_detail = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Unique through Meta.constraints, not unique=True: that would add a second (LIKE) index on
    # PostgreSQL that no query uses and every write of the row maintains.
    account_token_hash = models.CharField(max_length=64)
    account_token_encrypted = models.TextField()
    credentials_encrypted = models.TextField(blank=True, default="")

    sync_frequency = models.CharField(
        max_length=8,
        choices=SyncFrequency.choices,
        blank=True,
        default="",
        help_text="Blank: organization default",
    )
    next_sync_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "account_type", "category", "end_user_origin_id"],
                name="uniq_linked_account_origin",
            ),
            models.UniqueConstraint(fields=["account_token_hash"], name="uniq_linked_account_token_hash"),
        ]
        indexes = [
            # Keyset pagination of /linked-accounts: (created_at, id) after the equality filters.
            models.Index(
                fields=["organization", "account_type", "created_at", "id"], name="la_org_env_created"
            ),
            models.Index(
                fields=["organization", "account_type", "status", "created_at", "id"],
                name="la_org_env_status_created",
            ),
            # Billing's pages: an environment's accounts in id order (accounts.billing_pages).
            models.Index(fields=["organization", "account_type", "id"], name="la_org_env_id"),
            # The dispatch claim reads (next_sync_at, id) from here alone (an index-only scan).
            models.Index(
                fields=["next_sync_at", "id"],
                name="la_due",
                condition=Q(status__in=["COMPLETE", "IDLE"]) & Q(next_sync_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.end_user_organization_name} ({self.integration}, {self.end_user_origin_id})"

    # Transitions: called only by accounts.services, which saves and writes the history row.
    @transition(
        field=status,
        source=[LinkedAccountStatus.INCOMPLETE, LinkedAccountStatus.RELINK_NEEDED, LinkedAccountStatus.IDLE],
        target=LinkedAccountStatus.COMPLETE,
    )
    def complete(self) -> None:
        pass

    @transition(
        field=status,
        source=[LinkedAccountStatus.COMPLETE, LinkedAccountStatus.IDLE],
        target=LinkedAccountStatus.RELINK_NEEDED,
    )
    def mark_relink_needed(self) -> None:
        pass

    @transition(field=status, source=LinkedAccountStatus.COMPLETE, target=LinkedAccountStatus.IDLE)
    def mark_idle(self) -> None:
        pass


class LinkedAccountStatusChange(models.Model):
    """One row per status change: the billing source of truth and the outbox for
    `LinkedAccount.status_changed` webhooks (claimed by `issues` through `processed_at`)."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="status_changes")
    # The account row is purged on delete; its id and type stay here for billing.
    linked_account = models.ForeignKey(
        LinkedAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="status_changes"
    )
    linked_account_uuid = models.UUIDField(db_index=True)
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    from_status = models.CharField(max_length=16, choices=HistoryStatus.choices, blank=True, default="")
    to_status = models.CharField(max_length=16, choices=HistoryStatus.choices)
    reason = models.CharField(max_length=500, blank=True, default="")
    at = models.DateTimeField()
    # The account-details fields at the time of the change (webhook payload after deletion).
    account_snapshot = models.JSONField(default=dict)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Billing's totals and the status chart read (from, to, at) of a period's changes from
            # here alone (an index-only scan), not from the rows scattered over the table.
            models.Index(
                fields=["organization", "account_type", "at"],
                name="lash_org_env_at",
                include=["from_status", "to_status"],
            ),
            models.Index(fields=["linked_account_uuid", "at"], name="lash_account_at"),
            models.Index(fields=["id"], name="lash_unprocessed", condition=Q(processed_at__isnull=True)),
            # Billing's pages: the accounts deleted since a month began (accounts.billing_pages).
            models.Index(
                fields=["organization", "at", "linked_account_uuid"],
                name="lash_org_deleted_at",
                condition=Q(to_status="DELETED"),
            ),
        ]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.linked_account_uuid}: {self.from_status or '∅'} → {self.to_status}"


class BillingMonth(models.Model):
    """A closed month's billing totals for one environment, computed once: a month that is over
    never changes (the status history is only appended to). Its per-account rows are
    BillingMonthAccount; both are written together by accounts.billing_months."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The month's first day (UTC).")
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    billable_days = models.BigIntegerField()
    relink_needed_days = models.BigIntegerField()
    incomplete_days = models.BigIntegerField()
    test_days = models.BigIntegerField()
    deleted_days = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "month", "account_type"], name="billing_month_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.account_type}: {self.billable_days} billable days"


class BillingMonthAccount(models.Model):
    """One account's days in a closed month, and its entry of the usage API as rendered then
    (`entry`, JSON), with the live fields it was rendered from: a reader serves `entry` as
    long as the account still shows those, and renders it again otherwise."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    linked_account_uuid = models.UUIDField()
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    billable_days = models.IntegerField()
    relink_needed_days = models.IntegerField()
    incomplete_days = models.IntegerField()
    test_days = models.IntegerField()
    deleted_days = models.IntegerField()
    status = models.CharField(max_length=16, choices=HistoryStatus.choices)
    end_user_origin_id = models.CharField(max_length=255)
    end_user_organization_name = models.CharField(max_length=255)
    integration = models.CharField(max_length=64)
    category = models.CharField(max_length=16)
    entry = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "month", "linked_account_uuid"], name="billing_month_account_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.linked_account_uuid}: {self.billable_days} billable days"
