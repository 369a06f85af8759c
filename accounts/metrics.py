"""Prometheus metrics of the accounts app (exposed by config/metrics.py at /metrics).

`relink_linked_account_status_transitions_total{from_status, to_status}` counts every status
change (`NONE` → INCOMPLETE is a new account, `DELETED` a deletion) once its transaction commits.
`relink_linked_accounts{status, environment}` is read when Prometheus scrapes: one GROUP BY,
kept for METRICS_ACCOUNT_COUNTS_SECONDS per web process, so that scrapes never cost a scan each."""

import threading
import time
from collections.abc import Iterator

from django.conf import settings
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from .models import AccountType, LinkedAccountStatus
from .selectors import linked_account_counts_by_status

STATUS_TRANSITIONS = Counter(
    "relink_linked_account_status_transitions_total",
    "Linked-account status changes (NONE: the account was created; DELETED: it was deleted).",
    ["from_status", "to_status"],
)


def status_transition_observe(*, from_status: str, to_status: str) -> None:
    STATUS_TRANSITIONS.labels(from_status=from_status or "NONE", to_status=to_status).inc()


class LinkedAccountsCollector:
    """The linked-accounts gauge, computed at scrape time from a cached count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] | None = None
        self._at = 0.0

    def _current(self) -> dict[tuple[str, str], int]:
        with self._lock:
            fresh = time.monotonic() - self._at < settings.METRICS_ACCOUNT_COUNTS_SECONDS
            if self._counts is None or not fresh:
                self._counts = linked_account_counts_by_status()
                self._at = time.monotonic()
            return self._counts

    def collect(self) -> Iterator[Metric]:
        counts = self._current()
        gauge = GaugeMetricFamily(
            "relink_linked_accounts",
            "Linked accounts by status and environment (PRODUCTION or TEST).",
            labels=["status", "environment"],
        )
        for status in LinkedAccountStatus.values:
            for environment in AccountType.values:
                gauge.add_metric([status, environment], counts.get((status, environment), 0))
        yield gauge


linked_accounts_collector = LinkedAccountsCollector()
