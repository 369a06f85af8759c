"""The current tokens of each OAuth linked account (kept apart from the account's credentials,
which hold the grant as the end user linked it and change only on a relink)."""

from django.db import models

from accounts.models import LinkedAccount


class OAuthToken(models.Model):
    """One row per OAuth account: the tokens in use, and the generation that every refresh
    increments (under the row lock, see syncs/oauth_tokens.py)."""

    linked_account = models.OneToOneField(
        LinkedAccount, on_delete=models.CASCADE, primary_key=True, related_name="oauth_token"
    )
    # Keyed hash of the tokens the end user linked: when the account's credentials no longer
    # match it, the account was relinked and this row starts over from the new grant.
    source_hash = models.CharField(max_length=64)
    tokens_encrypted = models.TextField()
    generation = models.PositiveBigIntegerField(default=0)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    # The grant's absolute end, when the provider states it (refresh_token_expires_in, …).
    grant_expires_at = models.DateTimeField(null=True, blank=True)
    # Set once the end user was warned about this grant's end (reset by a relink).
    grant_expiry_warned_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["grant_expires_at"],
                name="oauth_grant_unwarned",
                condition=models.Q(grant_expires_at__isnull=False, grant_expiry_warned_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"OAuth tokens of {self.linked_account_id} (generation {self.generation})"
