"""Redis-backed counters for rate limits (API keys, account tokens, dashboard logins).

Each counter is a window that starts with its first hit and lasts `window` seconds: one Lua
script increments every counter a request touches and reads their remaining time, in one round
trip and atomically. Counters are keyed by ids or keyed hashes, never by a raw secret.

When Redis is unreachable the limits fail open: the caller serves the request. One warning is
logged per outage, and Redis is not asked again for a few seconds, so that an outage costs the
API one connect timeout now and then instead of one per request.
"""

import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

from .crypto import token_hash

logger = logging.getLogger(__name__)

# KEYS: the counters; ARGV: their windows in milliseconds. Returns [count, ttl_ms, ...].
_HIT = """
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if n == 1 or ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[i])
    ttl = tonumber(ARGV[i])
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out
"""

_PREFIX = "relink:rl:"


@dataclass(frozen=True)
class Limit:
    """One counter: `scope` names what is limited (e.g. "key"), `ident` whom (an id or a hash)."""

    scope: str
    ident: str
    limit: int
    window: int  # seconds

    @property
    def redis_key(self) -> str:
        return f"{_PREFIX}{self.scope}:{self.ident}"


def hashed_limit(*, scope: str, key: str, limit: int, window: int) -> Limit:
    """A counter for `key` (a username, an address, a token), named by a keyed hash of it."""
    return Limit(scope=scope, ident=token_hash(f"{scope}:{key}")[:40], limit=limit, window=window)


@dataclass(frozen=True)
class Lock:
    """A refusal until a window ends: `reason` says what was too many, `message` tells the user."""

    retry_after: int
    reason: str

    @property
    def message(self) -> str:
        minutes = max(1, -(-self.retry_after // 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"{self.reason} Try again in {minutes} {unit}."


def lock_for(counts: list["Count"] | None, *, reason: str, reached: bool = False) -> Lock | None:
    """The lock that these counts bring about: any counter past its limit (`reached`: at it)."""
    over = [c for c in counts or [] if c.count >= c.limit.limit + (0 if reached else 1)]
    if over:
        return Lock(retry_after=max(c.retry_after for c in over), reason=reason)
    return None


@dataclass(frozen=True)
class Count:
    limit: Limit
    count: int
    retry_after: int  # whole seconds until the window ends (at least 1)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit.limit


class _Breaker:
    """After a Redis error, skip Redis for `cooldown` seconds; warn once per outage."""

    def __init__(self, cooldown: float = 5.0):
        self.cooldown = cooldown
        self.down_until = 0.0
        self.warned = False
        self.lock = threading.Lock()

    def open(self) -> bool:
        return time.monotonic() < self.down_until

    def failed(self, exc: Exception) -> None:
        with self.lock:
            self.down_until = time.monotonic() + self.cooldown
            if not self.warned:
                self.warned = True
                logger.warning("Rate limits are off while Redis is unreachable (failing open): %s", exc)

    def succeeded(self) -> None:
        if self.warned:
            with self.lock:
                if self.warned:
                    self.warned = False
                    logger.warning("Redis is reachable again: rate limits are back on.")


_breaker = _Breaker()


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    timeout = settings.RATE_LIMIT_REDIS_TIMEOUT_SECONDS
    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, health_check_interval=30
    )


@lru_cache(maxsize=4)
def _script(url: str):
    return _client(url).register_script(_HIT)


def redis_url() -> str:
    return settings.RATE_LIMIT_REDIS_URL or settings.REDIS_URL


def hit(limits: list[Limit]) -> list[Count] | None:
    """Count one hit on every limit. None when Redis is unavailable (fail open)."""
    if not limits:
        return []
    if _breaker.open():
        return None
    url = redis_url()
    try:
        raw = _script(url)(
            keys=[limit.redis_key for limit in limits],
            args=[limit.window * 1000 for limit in limits],
        )
    except redis.RedisError as exc:
        _breaker.failed(exc)
        return None
    _breaker.succeeded()
    counts = []
    for i, limit in enumerate(limits):
        count, ttl_ms = int(raw[2 * i]), int(raw[2 * i + 1])
        counts.append(Count(limit=limit, count=count, retry_after=max(1, -(-ttl_ms // 1000))))
    return counts


def peek(limit: Limit) -> Count | None:
    """The current count without adding a hit. None when Redis is unavailable."""
    if _breaker.open():
        return None
    try:
        client = _client(redis_url())
        pipe = client.pipeline(transaction=False)
        pipe.get(limit.redis_key)
        pipe.pttl(limit.redis_key)
        value, ttl_ms = pipe.execute()
    except redis.RedisError as exc:
        _breaker.failed(exc)
        return None
    _breaker.succeeded()
    count = int(value or 0)
    return Count(limit=limit, count=count, retry_after=max(1, -(-max(int(ttl_ms), 0) // 1000)))


def clear(limit: Limit) -> None:
    if _breaker.open():
        return
    try:
        _client(redis_url()).delete(limit.redis_key)
    except redis.RedisError as exc:
        _breaker.failed(exc)
