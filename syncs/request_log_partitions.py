"""PostgreSQL only: the request-log table is range-partitioned by UTC day on created_at
(declarative partitioning), so retention drops a day's partition instead of deleting its rows
one by one, and the busy table's indexes stay a day's size. SQLite keeps the plain table.

Hand-written (a few statements): Django has no partitioning support, and the libraries that add
it (django-postgres-extra) replace the database backend, too much for one table. The table is
converted by the syncs migration (the step once numbered 0005); its primary key is (id,
created_at), as PostgreSQL requires of a partitioned table, and ids still come from one sequence, so `id` stays unique. Rows whose
day has no partition yet land in the DEFAULT partition (never lost); partitions are created a
week ahead every day by the prune task."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from django.db import DatabaseError, connection, transaction

TABLE = "syncs_requestlog"
DEFAULT = f"{TABLE}_default"
_DAY = re.compile(rf"^{TABLE}_p(\d{{8}})$")
DAYS_AHEAD = 7


def request_log_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def _partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def _midnight(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


def request_log_partition_days() -> list[date]:
    """The days that have a partition, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [TABLE],
        )
        names = [name for (name,) in cursor.fetchall()]
    days = [datetime.strptime(m[1], "%Y%m%d").date() for m in map(_DAY.match, names) if m]
    return sorted(days)


def request_log_partitions_ensure(*, first: date, last: date) -> int:
    """Create the day partitions from `first` to `last` that are missing; how many were made.
    A day whose rows already sit in the DEFAULT partition is left there (PostgreSQL refuses the
    new partition; the rows stay readable and are pruned by rows)."""
    existing = set(request_log_partition_days())
    made = 0
    day = first
    while day <= last:
        if day not in existing:
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        f'CREATE TABLE "{_partition_name(day)}" PARTITION OF {TABLE} '
                        f"FOR VALUES FROM ('{_midnight(day)}') TO ('{_midnight(day + timedelta(days=1))}')"
                    )
                made += 1
            except DatabaseError:
                pass
        day += timedelta(days=1)
    return made


def request_log_partitions_drop_before(*, cutoff: datetime) -> int:
    """Drop the day partitions that end at or before `cutoff`; the rows they held, counted."""
    dropped = 0
    for day in request_log_partition_days():
        if datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) > cutoff:
            break
        name = _partition_name(day)
        with transaction.atomic(), connection.cursor() as cursor:
            # Foreign-key checks still deferred in this transaction would block the DROP: run them.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f'SELECT count(*) FROM "{name}"')  # noqa: S608 (our own partition's name)
            dropped += cursor.fetchone()[0]
            cursor.execute(f'ALTER TABLE {TABLE} DETACH PARTITION "{name}"')
            cursor.execute(f'DROP TABLE "{name}"')
    return dropped


def request_log_partitions_maintain(*, cutoff: datetime, today: date) -> int:
    """The daily upkeep: partitions for the coming week, old days dropped (rows dropped)."""
    request_log_partitions_ensure(first=today, last=today + timedelta(days=DAYS_AHEAD))
    return request_log_partitions_drop_before(cutoff=cutoff)
