"""PostgreSQL: request logs are partitioned by day; retention drops whole days and the next
week's partitions are made ahead (syncs.request_log_partitions)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from syncs import request_logs
from syncs.models import RequestLog
from syncs.request_log_partitions import request_log_partition_days, request_log_partitioned

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _logs(when, count: int) -> list[RequestLog]:
    return [
        RequestLog(integration="sandbox", method="GET", url="http://x/", created_at=when)
        for _ in range(count)
    ]


def test_retention_drops_old_days_keeps_recent_ones_and_prepares_next_week(owner):
    assert request_log_partitioned()
    now = timezone.now()
    RequestLog.objects.bulk_create(
        _logs(now - timedelta(days=90), 2)  # older than any partition: in the default one
        + _logs(now - timedelta(days=31), 3)
        + _logs(now - timedelta(days=2), 4)
        + _logs(now, 5)
    )
    assert request_logs.request_logs_prune() == 5
    assert sorted(RequestLog.objects.values_list("created_at", flat=True)) == sorted(
        [now - timedelta(days=2)] * 4 + [now] * 5
    )
    days = request_log_partition_days()
    assert (now - timedelta(days=31)).date() not in days  # dropped as a whole
    assert {(now + timedelta(days=n)).date() for n in range(8)} <= set(days)
    # Writing keeps working, into today's partition, and ids stay unique.
    request_logs.request_logs_write(entries=[], integration="sandbox")
    RequestLog.objects.bulk_create(_logs(now, 2))
    ids = list(RequestLog.objects.values_list("id", flat=True))
    assert len(ids) == len(set(ids)) == 11
