"""One OAuth consent round trip of the link page: from "Continue with …" to the callback."""

from django.db import models

from .models import LinkAttempt, LinkToken, SingleUse


class OAuthConsent(SingleUse):
    """The `state` of one authorization request: bound to its link token and to the browser
    that started it (a cookie nonce), single use, short-lived. Only hashes of the state and the
    nonce are stored; the PKCE verifier and the raw link token (to finish the link through the
    same service as the form) are Fernet-encrypted. `attempt` is the link attempt recorded when
    the consent started (its INCOMPLETE account's, or a relink's), settled by the callback."""

    link_token = models.ForeignKey(LinkToken, on_delete=models.CASCADE, related_name="oauth_consents")
    integration = models.CharField(max_length=64)
    state_hash = models.CharField(max_length=64, unique=True)
    browser_hash = models.CharField(max_length=64)
    secrets_encrypted = models.TextField()
    redirect_uri = models.URLField(max_length=500)
    popup = models.BooleanField(default=False)
    magic = models.BooleanField(default=False)
    attempt = models.ForeignKey(
        LinkAttempt, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"OAuth consent for {self.integration} ({self.link_token_id})"
