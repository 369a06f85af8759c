"""Caps on credential checks: each link-form submission (and each sandbox public-token call)
makes a live call to the provider, so an end user's page could be used to test stolen or guessed
credentials against a provider, or to flood it. Attempts are counted per link token and per
client address in the Redis counters of accounts.ratelimit (failing open when Redis is down,
like every other limit)."""

from dataclasses import dataclass

from django.conf import settings

from accounts import ratelimit
from accounts.crypto import token_hash


@dataclass(frozen=True)
class AttemptLock:
    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, -(-self.retry_after // 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many attempts to connect. Try again in {minutes} {unit}."


def link_attempt_record(*, raw_token: str, ip: str) -> AttemptLock | None:
    """Count one credential check for this link token from this address. A lock when either cap
    is passed: the check must then not reach the provider."""
    window = settings.LINK_ATTEMPT_WINDOW_SECONDS
    counts = ratelimit.hit(
        [
            ratelimit.Limit(
                scope="link-token",
                ident=token_hash(f"link-attempt:{raw_token}")[:40],
                limit=settings.LINK_ATTEMPTS_PER_TOKEN,
                window=window,
            ),
            ratelimit.Limit(
                scope="link-ip",
                ident=token_hash(f"link-attempt-ip:{ip}")[:40],
                limit=settings.LINK_ATTEMPTS_PER_IP,
                window=window,
            ),
        ]
    )
    over = [count for count in counts or [] if count.exceeded]
    if over:
        return AttemptLock(retry_after=max(count.retry_after for count in over))
    return None
