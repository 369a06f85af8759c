from django.db import models
from django.db.models import Q

from accounts.ids import uuid7
from accounts.models import LinkedAccount, Organization


class SyncTrigger(models.TextChoices):
    SCHEDULE = "schedule", "On schedule"
    FORCED = "forced", "Forced (resync, relink or operator)"


class SyncRunStatus(models.TextChoices):
    RUNNING = "RUNNING", "Running"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"
    PARTIALLY_SYNCED = "PARTIALLY_SYNCED", "Partially synced"


class SyncRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    linked_account = models.ForeignKey(LinkedAccount, on_delete=models.CASCADE, related_name="sync_runs")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.CharField(max_length=64)
    trigger = models.CharField(max_length=16, choices=SyncTrigger.choices)
    reason = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=20, choices=SyncRunStatus.choices, default=SyncRunStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running run belongs to its worker until then; the recovery job fails it afterwards.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    error_class = models.CharField(max_length=32, blank=True, default="")
    error_message = models.CharField(max_length=500, blank=True, default="")
    requests_total = models.PositiveIntegerField(default=0)
    requests_failed = models.PositiveIntegerField(default=0)
    records_fetched = models.PositiveIntegerField(default=0)
    records_created = models.PositiveIntegerField(default=0)
    records_updated = models.PositiveIntegerField(default=0)
    records_deleted = models.PositiveIntegerField(default=0)
    records_skipped = models.PositiveIntegerField(default=0)
    # Per common model: {"ats.Candidate": {"fetched", "created", "updated", "deleted"}}; the
    # records_* columns above are their sums.
    model_counts = models.JSONField(default=dict, blank=True)
    # A DONE run's digest of every page it fetched: the next run skips identical pages
    # (syncs/page_digests.py). Null for every other run.
    page_digests = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            # An account never runs two syncs at once, whatever the workers do.
            models.UniqueConstraint(
                fields=["linked_account"], condition=Q(status="RUNNING"), name="one_running_sync_per_account"
            )
        ]
        indexes = [
            models.Index(fields=["linked_account", "-started_at"], name="syncrun_account_started"),
            models.Index(
                fields=["lease_expires_at"], name="syncrun_running_lease", condition=Q(status="RUNNING")
            ),
        ]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.integration} run {self.id} ({self.status})"


class SyncDispatch(models.Model):
    """A due account the dispatcher handed out, until its run finishes or `leased_until` passes (a lost
    message). A row here, not a write to the account: moving the account's next_sync_at would
    rewrite an entry in every index of the linked-accounts table for each claimed account, a
    cost that grows with the table; this table only ever holds the accounts in flight."""

    # No database constraint: the claim inserts thousands of rows per tick, and a foreign key
    # would lock each referenced account row. Deleting an account deletes its row (CASCADE).
    linked_account = models.OneToOneField(
        LinkedAccount, on_delete=models.CASCADE, primary_key=True, related_name="+", db_constraint=False
    )
    leased_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.linked_account_id} handed out until {self.leased_until}"


class RequestLog(models.Model):
    """One outbound provider request. Bulk-written after each run; URLs carry no secrets."""

    id = models.BigAutoField(primary_key=True)
    linked_account = models.ForeignKey(
        LinkedAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    sync_run = models.ForeignKey(
        SyncRun, on_delete=models.CASCADE, null=True, blank=True, related_name="requests"
    )
    organization_id = models.UUIDField(null=True, blank=True)
    integration = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=2000)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error_class = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="requestlog_created"),
            models.Index(fields=["linked_account", "-created_at"], name="requestlog_account_created"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.url} -> {self.status_code or self.error_class}"


class EmploymentStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"
    INACTIVE = "INACTIVE"


class CommonModelRow(models.Model):
    """What every synced common-model table has: one row per provider record of one linked
    account, keyed by (linked account, remote_id), with Merge's bookkeeping fields and the
    digest the sync compares instead of loading every column. A new common model subclasses
    this and adds its Merge fields (see docs/common-models.md)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    linked_account = models.ForeignKey(
        LinkedAccount, on_delete=models.CASCADE, related_name="%(class)ss", db_index=False
    )
    remote_id = models.CharField(max_length=255)
    remote_was_deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField()
    # Digest of the mapped fields: a sync compares digests instead of loading every column.
    content_hash = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["linked_account", "remote_id"], name="uniq_%(class)s_remote_id")
        ]
        indexes = [
            models.Index(fields=["linked_account", "id"], name="%(class)s_account_id"),
            models.Index(fields=["linked_account", "modified_at"], name="%(class)s_account_modified"),
        ]


class Employee(CommonModelRow):
    """The hris Employee common model (Merge's field names), one row per provider record."""

    # Merge's API tells "unknown" (null) from empty: these stay nullable on purpose.
    employee_number = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    display_full_name = models.CharField(max_length=512, blank=True, default="")
    work_email = models.CharField(max_length=320, null=True, blank=True)  # noqa: DJ001
    personal_email = models.CharField(max_length=320, null=True, blank=True)  # noqa: DJ001
    mobile_phone_number = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    employment_status = models.CharField(  # noqa: DJ001
        max_length=16, choices=EmploymentStatus.choices, null=True, blank=True
    )
    start_date = models.DateTimeField(null=True, blank=True)
    termination_date = models.DateTimeField(null=True, blank=True)
    remote_created_at = models.DateTimeField(null=True, blank=True)
    # The rest of Merge's Employee: null when the provider does not give it.
    preferred_name = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    username = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    gender = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    ethnicity = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    marital_status = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    hire_date = models.DateTimeField(null=True, blank=True)
    avatar = models.CharField(max_length=2000, null=True, blank=True)  # noqa: DJ001
    employee_url = models.CharField(max_length=2000, null=True, blank=True)  # noqa: DJ001
    custom_fields = models.JSONField(null=True, blank=True)
    # Sensitive: Merge's `ssn` and `date_of_birth`, Fernet-encrypted at rest (syncs/sensitive.py),
    # answered only with include_sensitive_fields=true.
    ssn_encrypted = models.TextField(null=True, blank=True)  # noqa: DJ001
    date_of_birth_encrypted = models.TextField(null=True, blank=True)  # noqa: DJ001

    def __str__(self) -> str:
        return f"{self.display_full_name} ({self.remote_id})"


class PersonRow(CommonModelRow):
    """A common model of a person whose name the provider may not give (null: unknown)."""

    first_name = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    last_name = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001

    class Meta(CommonModelRow.Meta):
        abstract = True

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} ({self.remote_id})"


class Candidate(PersonRow):
    """The ats Candidate common model (Merge's field names). Lists of contact details are kept
    as Merge writes them: ``[{"value": ..., "email_address_type": ...}]``."""

    company = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    title = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    remote_created_at = models.DateTimeField(null=True, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    is_private = models.BooleanField(null=True, blank=True)
    can_email = models.BooleanField(null=True, blank=True)
    locations = models.JSONField(default=list, blank=True)
    phone_numbers = models.JSONField(default=list, blank=True)
    email_addresses = models.JSONField(default=list, blank=True)
    urls = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)


class Contact(PersonRow):
    """The crm Contact common model (Merge's field names). ``email_addresses`` are
    ``[{"email_address", "email_address_type"}]`` and ``phone_numbers``
    ``[{"phone_number", "phone_number_type"}]``, as Merge's CRM writes them."""

    addresses = models.JSONField(default=list, blank=True)
    email_addresses = models.JSONField(default=list, blank=True)
    phone_numbers = models.JSONField(default=list, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    remote_created_at = models.DateTimeField(null=True, blank=True)


from .models_oauth import OAuthToken  # noqa: E402, F401  (its own module: one concern)
