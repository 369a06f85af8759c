"""kombu's Redis transport with one fix, used for `redis://` and `rediss://` broker URLs.

kombu 5.7: when a worker's broker connection drops, Celery closes the connection; closing its
channel tries to put the channel's unacknowledged messages back on their queues through a new
connection pool, built from connection details that the close has already cleared when another
user of the transport got there first. The AttributeError that follows is not a connection error,
so Celery treats it as fatal ("Unrecoverable error") and the whole worker, beat included, exits:
after a Redis restart nothing syncs until someone restarts it (seen in the Redis-outage fault
drill, about one outage in ten). Here that case is reported as what it is, a lost connection, and
the worker reconnects. The messages are not lost: with acks_late they are still in Redis's
unacked set, which gives them back after the visibility timeout.
"""

from kombu import transport as kombu_transport
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("The broker connection is already closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


def register() -> None:
    """Make the `redis` and `rediss` URL schemes use this transport (the scheme names stay as
    they are, so kombu's TLS handling of `rediss://` is unchanged)."""
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
        kombu_transport._transport_cache.pop(scheme, None)  # resolved before this ran
