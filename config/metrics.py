"""`/metrics` for Prometheus (served by config/middleware.py), and the multi-process plumbing.

Why prometheus-client and not django-prometheus: what an operator needs from Relink happens in
Celery workers (sync runs, provider requests, webhook deliveries, dispatcher ticks), not in
Django's request and ORM hooks that django-prometheus instruments, and its per-view and
per-model series would add cardinality nobody reads. prometheus-client (which django-prometheus
itself builds on) gives the multi-process mode for gunicorn and the prefork worker directly.

Multi-process: with PROMETHEUS_MULTIPROC_DIR set (scripts/run.sh, the Procfile, the tests),
every process (gunicorn workers, Celery pool processes) writes its samples into that directory
and a scrape adds them up; gunicorn's `child_exit` and the worker's `worker_process_shutdown`
call `mark_process_dead`. A scrape reports every process that shares the directory: run the
worker on the web's host with the same directory, or give it its own and scrape it there.
Without the directory (a single process, e.g. `runserver`) the process's own registry is served.

Besides what each app defines in `<app>/metrics.py`, a scrape reads: the linked-accounts gauge
(accounts), the oldest due webhook delivery (issues), the age of the dispatcher's last tick, and
the depth of each Celery queue (LLEN of its Redis lists). A source that fails (Redis down) is
left out of that scrape and counted in `relink_metrics_collector_errors`.

The token is compared in constant time; without METRICS_TOKEN the endpoint does not exist (404)."""

import hmac
import logging
import time
from collections.abc import Iterable, Iterator
from functools import lru_cache

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from accounts.metrics import linked_accounts_collector
from issues.metrics import oldest_due_delivery_collector
from syncs.heartbeat import sync_dispatch_last_tick

logger = logging.getLogger(__name__)

# kombu's Redis transport keeps a queue as one list per priority step: the queue's name for
# priority 0, the name + "\x06\x16" + the step for the others.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)


class CeleryQueueDepthCollector:
    def collect(self) -> Iterator[Metric]:
        client = _redis(settings.CELERY_BROKER_URL)
        queues = list(settings.CELERY_TASK_QUEUES)
        with client.pipeline(transaction=False) as pipe:
            for queue in queues:
                for suffix in _PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
            lengths = pipe.execute()
        gauge = GaugeMetricFamily(
            "relink_celery_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"]
        )
        step = len(_PRIORITY_SUFFIXES)
        for n, queue in enumerate(queues):
            gauge.add_metric([queue], sum(lengths[n * step : (n + 1) * step]))
        yield gauge


class DispatcherCollector:
    def collect(self) -> Iterator[Metric]:
        last = sync_dispatch_last_tick()
        if last is not None:
            yield GaugeMetricFamily(
                "relink_sync_dispatch_last_tick_age_seconds",
                "Seconds since the beat dispatcher last finished a tick.",
                value=max(0.0, time.time() - last),
            )


SCRAPE_COLLECTORS = {
    "linked_accounts": linked_accounts_collector,
    "webhook_oldest_due": oldest_due_delivery_collector,
    "dispatcher": DispatcherCollector(),
    "celery_queues": CeleryQueueDepthCollector(),
}


class _Scrape:
    """What one scrape reports: the processes' samples plus the scrape-time collectors, each of
    which may fail on its own."""

    def __init__(self, sources: Iterable) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        if settings.PROMETHEUS_MULTIPROC_DIR:
            yield from MultiProcessCollector(None, path=settings.PROMETHEUS_MULTIPROC_DIR).collect()
        else:
            yield from REGISTRY.collect()
        errors = GaugeMetricFamily(
            "relink_metrics_collector_errors",
            "1 when a scrape-time source failed in this scrape (its metrics are missing).",
            labels=["collector"],
        )
        for name, collector in self.sources:
            try:
                metrics = list(collector.collect())
            except Exception as exc:
                logger.warning("metrics: %s collector failed: %s", name, type(exc).__name__)
                errors.add_metric([name], 1)
                continue
            errors.add_metric([name], 0)
            yield from metrics
        yield errors


def _authorized(request: HttpRequest) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), settings.METRICS_TOKEN.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    if not _authorized(request):
        response = HttpResponse(
            "Authorization: Bearer <METRICS_TOKEN> required.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    output = encoder(_Scrape(SCRAPE_COLLECTORS.items()))
    return HttpResponse(output, content_type=content_type, headers={"Cache-Control": "no-store"})
