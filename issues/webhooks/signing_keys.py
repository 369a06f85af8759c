"""Which keys sign an attempt: after a rotation, the old key keeps signing beside the new one
for WEBHOOK_KEY_ROTATION_OVERLAP_HOURS, so receivers move to the new key at their own pace.

During the overlap, `webhook-signature` (Standard Webhooks) carries two space-separated
signatures, by the new key and by the old one; a receiver holding either verifies. The Merge
header `X-Merge-Webhook-Signature` holds a single signature: it stays on the old key until the
window ends, so a receiver that checks only that header keeps working until it switches."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from accounts.crypto import decrypt_str


@dataclass(frozen=True)
class SigningKeys:
    current: str
    previous: str | None  # signs too while the overlap lasts

    @property
    def merge_key(self) -> str:
        return self.previous or self.current

    @property
    def standard_keys(self) -> list[str]:
        return [self.current, self.previous] if self.previous else [self.current]


def signing_keys(endpoint, *, at: datetime) -> SigningKeys:
    """The keys of `endpoint` (its encrypted columns loaded) that sign an attempt made `at`."""
    current = decrypt_str(endpoint.signature_key_encrypted)
    previous = None
    overlap = timedelta(hours=settings.WEBHOOK_KEY_ROTATION_OVERLAP_HOURS)
    if (
        endpoint.previous_signature_key_encrypted
        and endpoint.key_rotated_at is not None
        and at < endpoint.key_rotated_at + overlap
    ):
        previous = decrypt_str(endpoint.previous_signature_key_encrypted)
    return SigningKeys(current=current, previous=previous)
