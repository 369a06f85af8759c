"""Prometheus metrics of the issues app (exposed by config/metrics.py at /metrics).

- `relink_webhook_deliveries_total{outcome}`: webhook delivery attempts by outcome (SUCCESS,
  TRANSIENT: will be retried, PERMANENT: final failure), counted by the worker that sent them.
- `relink_webhook_delivery_lag_seconds`: how late each attempt started, measured from when the
  delivery was due (its event, or the retry time it was given).
- `relink_webhook_oldest_due_seconds`: read at scrape time, how long the longest-waiting due
  delivery has waited (the head of the `whd_due` index; /readyz fails past a threshold)."""

from collections.abc import Iterator
from datetime import datetime

from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from .selectors import webhook_delivery_oldest_due_at

WEBHOOK_DELIVERIES = Counter(
    "relink_webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"]
)
WEBHOOK_DELIVERY_LAG = Histogram(
    "relink_webhook_delivery_lag_seconds",
    "From when a webhook delivery was due to when its attempt started.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
)


def webhook_attempt_observe(*, outcome: str, due_at: datetime | None, started_at: datetime) -> None:
    WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()
    if due_at is not None:
        WEBHOOK_DELIVERY_LAG.observe(max(0.0, (started_at - due_at).total_seconds()))


class OldestDueDeliveryCollector:
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        oldest = webhook_delivery_oldest_due_at(now=now)
        yield GaugeMetricFamily(
            "relink_webhook_oldest_due_seconds",
            "How long the longest-waiting due webhook delivery has waited (0: none is due).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )


oldest_due_delivery_collector = OldestDueDeliveryCollector()
