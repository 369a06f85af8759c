"""The dispatcher's heartbeat: the time of its last finished tick, one key in Redis.

/readyz (config/health.py) says the beat dispatcher is alive when this is recent. It is kept in
Redis rather than the database because the tick already depends on Redis (the broker) and the
check must cost nothing; a value (seconds since the epoch), not a key expiry, so that the age
is measured by the reader's clock. Losing the key (Redis restarted) reads as "never ticked"
until the next tick, a few seconds later."""

import logging
import time
from functools import lru_cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY = "relink:syncs:dispatch:last_tick"


@lru_cache(maxsize=4)
def _client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def _redis() -> redis.Redis:
    return _client(settings.REDIS_URL, settings.READYZ_TIMEOUT_SECONDS)


def sync_dispatch_heartbeat_record(*, at: float | None = None) -> None:
    """A tick finished (whether it found due accounts or not). Redis unreachable: logged, not
    raised (the tick's work is done; /readyz names Redis down meanwhile)."""
    try:
        _redis().set(KEY, repr(time.time() if at is None else at))
    except redis.RedisError as exc:
        logger.warning("could not record the dispatcher's heartbeat: %s", type(exc).__name__)


def sync_dispatch_last_tick() -> float | None:
    """Seconds since the epoch of the last finished tick; None if none is known. Raises
    redis.RedisError when Redis cannot be asked."""
    value = _redis().get(KEY)
    return float(value) if value is not None else None
