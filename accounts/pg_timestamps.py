"""PostgreSQL timestamps read at C speed.

Django's PostgreSQL backend reads every `timestamptz` value through a loader of its own, a
Python subclass of psycopg's pure-Python loader that parses the text and then sets the time
zone: about 5 µs per value, and an API page of 50 employees holds 200 of them (a tenth of the
page's CPU time). psycopg's C loader gives the same value (an aware datetime in
`datetime.timezone.utc`) whenever the session time zone is UTC, which is what Django sets when
TIME_ZONE is "UTC" (config/settings.py). So on each new connection whose session time zone is
UTC, the C loader takes Django's place; any other session keeps Django's loader.

The C class cannot be subclassed: a small Python loader hands psycopg the C loader's own `load`,
and carries the `timezone` attribute Django compares before each cursor
(`DatabaseWrapper.create_cursor`), so Django sees its own time zone and keeps this loader.
"""

import datetime
from functools import cache

from django.db.backends.signals import connection_created


@cache
def _utc_loader_class() -> type | None:
    import psycopg
    from psycopg.pq import Format

    c_loader = psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)
    if c_loader.__module__.startswith("psycopg."):
        return None  # psycopg without its C part: nothing to gain over Django's loader

    class UtcTimestamptzLoader(psycopg.adapt.Loader):
        timezone = datetime.UTC

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            # The C loader's own bound method: psycopg calls it with no Python frame between.
            self.load = c_loader(oid, context).load

        def load(self, data):  # replaced per instance above; psycopg's Loader declares it
            raise NotImplementedError

    return UtcTimestamptzLoader


def use_c_timestamp_loader(sender, connection, **kwargs) -> None:
    if connection.vendor != "postgresql" or connection.timezone is not datetime.UTC:
        return
    raw = connection.connection
    loader = _utc_loader_class()
    if loader is not None and raw.info.parameter_status("TimeZone") == "UTC":
        raw.adapters.register_loader("timestamptz", loader)


def connect() -> None:
    """Install the receiver (accounts.apps)."""
    connection_created.connect(use_c_timestamp_loader, dispatch_uid="accounts.pg_timestamps")
