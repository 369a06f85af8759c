"""Link tokens (the start of a link or relink), public tokens (its single-use result) and the
relink e-mails sent to end users. Every token is stored only as a keyed hash."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.ids import uuid7
from accounts.models import AccountType, LinkedAccount, Organization


class SingleUse(models.Model):
    """A row used at most once before it expires: a link token, a public token, an OAuth consent.
    Public tokens and consents are claimed by an UPDATE filtered on `SingleUse.usable(now)`, so
    two concurrent uses cannot both succeed (a link token is checked under its row lock)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @staticmethod
    def usable(now) -> Q:
        """Not used yet and not expired at `now`."""
        return Q(used_at__isnull=True, expires_at__gt=now)


class LinkToken(SingleUse):
    """One link flow for one end user: single use, expiring. `linked_account` is set from the
    start on a relink (an account already exists for the origin id) and on finishing otherwise."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="link_tokens")
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    # The category of the URL the token was created under: preferred for a new account.
    category = models.CharField(max_length=16)
    categories = models.JSONField(default=list)
    integration = models.CharField(max_length=64, blank=True, default="")
    end_user_origin_id = models.CharField(max_length=255)
    end_user_organization_name = models.CharField(max_length=255)
    end_user_email_address = models.EmailField(max_length=255)
    language = models.CharField(max_length=8, blank=True, default="")
    is_magic_link = models.BooleanField(default=False)
    # SET_NULL: a relink link for an account deleted meanwhile becomes a new link.
    linked_account = models.ForeignKey(
        LinkedAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="link_tokens"
    )
    is_relink = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "account_type", "end_user_origin_id"],
                name="link_token_org_env_origin",
            )
        ]

    def __str__(self) -> str:
        return f"link token for {self.end_user_origin_id} ({self.account_type})"


class PublicToken(SingleUse):
    """The result of a finished link, exchanged once for the account token within 30 minutes."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="public_tokens")
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    linked_account = models.ForeignKey(LinkedAccount, on_delete=models.CASCADE, related_name="public_tokens")
    link_token = models.ForeignKey(LinkToken, on_delete=models.CASCADE, related_name="public_tokens")
    token_hash = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return f"public token for {self.linked_account_id}"


class RelinkEmailKind(models.TextChoices):
    MANUAL = "MANUAL", "Sent by an operator"
    REMINDER = "REMINDER", "Automatic reminder"
    EXPIRING = "EXPIRING", "Grant about to expire"


class RelinkEmail(models.Model):
    """One relink e-mail sent to the end user of an account."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="relink_emails")
    linked_account = models.ForeignKey(LinkedAccount, on_delete=models.CASCADE, related_name="relink_emails")
    link_token = models.ForeignKey(LinkToken, on_delete=models.SET_NULL, null=True, blank=True)
    to_address = models.EmailField(max_length=255)
    kind = models.CharField(max_length=10, choices=RelinkEmailKind.choices, default=RelinkEmailKind.MANUAL)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField()
    link_expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at"]
        indexes = [models.Index(fields=["linked_account", "-sent_at"], name="relink_email_account_sent")]
        constraints = [
            models.CheckConstraint(condition=~Q(to_address=""), name="relink_email_has_address"),
        ]

    def __str__(self) -> str:
        return f"relink e-mail to {self.to_address} at {self.sent_at:%Y-%m-%d %H:%M}"


class LinkAttempt(models.Model):
    """One submission of credentials on a link or relink (page, sandbox endpoint): what the
    dashboard shows beside an account that is not linked yet, and why a relink keeps failing.
    Never the credentials themselves."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    linked_account = models.ForeignKey(LinkedAccount, on_delete=models.CASCADE, related_name="link_attempts")
    integration = models.CharField(max_length=64)
    succeeded = models.BooleanField()
    error_description = models.CharField(max_length=64, blank=True, default="")
    message = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["linked_account", "-created_at"], name="linkattempt_account_created")]

    def __str__(self) -> str:
        outcome = "linked" if self.succeeded else self.error_description or "failed"
        return f"{self.integration} attempt {self.created_at:%Y-%m-%d %H:%M} ({outcome})"


from .models_oauth import OAuthConsent  # noqa: E402, F401  (its own module: one concern)
