"""Caps on credential checks: each link-form submission (and each sandbox public-token call)
makes a live call to the provider, so an end user's page could be used to test stolen or guessed
credentials against a provider, or to flood it. Attempts are counted per link token and per
client address in the Redis counters of accounts.ratelimit (failing open when Redis is down,
like every other limit)."""

from django.conf import settings

from accounts import ratelimit


def link_attempt_record(*, raw_token: str, ip: str) -> ratelimit.Lock | None:
    """Count one credential check for this link token from this address. A lock when either cap
    is passed: the check must then not reach the provider."""
    window = settings.LINK_ATTEMPT_WINDOW_SECONDS
    counts = ratelimit.hit(
        [
            ratelimit.hashed_limit(
                scope="link-token", key=raw_token, limit=settings.LINK_ATTEMPTS_PER_TOKEN, window=window
            ),
            ratelimit.hashed_limit(
                scope="link-ip", key=ip, limit=settings.LINK_ATTEMPTS_PER_IP, window=window
            ),
        ]
    )
    return ratelimit.lock_for(counts, reason="Too many attempts to connect.")
