"""API rate limits, for every API view through REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"].

Two limits, counted together in one Redis round trip: per API key (all its requests) and, on
per-account endpoints, per account token (Merge's 600 requests a minute per linked account).
Over a limit: 429 with a Retry-After header and a JSON body that says which limit and when to
retry. Redis down: the request is served (see accounts.ratelimit).

Kept free of imports from accounts.api and the views: DRF imports this module while loading
its settings, before the views exist.
"""

from django.conf import settings
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from . import ratelimit
from .crypto import token_hash


class RateLimited(exceptions.Throttled):
    """429 with Retry-After (set by DRF from `wait`) and a JSON body of our own."""

    def __init__(self, *, wait: int, detail: dict):
        super().__init__(wait=wait)
        self.detail = detail  # as is: numbers stay numbers in the body


def _is_account_view(view) -> bool:
    from .api import AccountView

    return isinstance(view, AccountView)


class ApiRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        if not settings.RATE_LIMIT_ENABLED:
            return True
        api_key_id = getattr(request.user, "api_key_id", None)
        if api_key_id is None:  # public views (the schema): no key, nothing to count against
            return True
        window = settings.RATE_LIMIT_WINDOW_SECONDS
        limits = [
            ratelimit.Limit(
                scope="key", ident=str(api_key_id), limit=settings.RATE_LIMIT_KEY_REQUESTS, window=window
            )
        ]
        raw_token = request.META.get("HTTP_X_ACCOUNT_TOKEN", "").strip()
        if raw_token and _is_account_view(view):
            # By keyed hash: a raw token never reaches Redis. An unknown token is counted as
            # well, which slows down guessing.
            limits.append(
                ratelimit.Limit(
                    scope="account",
                    ident=token_hash(raw_token)[:40],
                    limit=settings.RATE_LIMIT_ACCOUNT_REQUESTS,
                    window=window,
                )
            )
        counts = ratelimit.hit(limits)
        if not counts:
            return True
        exceeded = [c for c in counts if c.exceeded]
        if not exceeded:
            return True
        worst = max(exceeded, key=lambda c: c.retry_after)
        what = "this linked account (X-Account-Token)" if worst.limit.scope == "account" else "this API key"
        raise RateLimited(
            wait=worst.retry_after,
            detail={
                "detail": (
                    f"Rate limit exceeded: at most {worst.limit.limit} requests per "
                    f"{worst.limit.window} seconds for {what}. Retry in {worst.retry_after} s."
                ),
                "limit": worst.limit.limit,
                "window_seconds": worst.limit.window,
                "scope": "linked_account" if worst.limit.scope == "account" else "api_key",
                "retry_after": worst.retry_after,
            },
        )

    def wait(self):  # pragma: no cover - allow_request raises instead of returning False
        return None
