"""Prometheus metrics of the syncs app (exposed by config/metrics.py at /metrics).

Counters and histograms are written by whichever process does the work (a worker's sync run, the
dispatcher's tick) into PROMETHEUS_MULTIPROC_DIR and added up at scrape time.

- `relink_sync_runs_total{integration, result}` and `relink_sync_run_duration_seconds`: finished
  runs, by their final status (DONE, FAILED, PARTIALLY_SYNCED).
- `relink_provider_requests_total{integration, error_class}`: outbound provider requests by the
  error class they were classified as (`none`: succeeded).
- `relink_oauth_refreshes_total{outcome}`: OAuth access-token refreshes; the refresher increments
  it with `oauth_refresh_observe(outcome=...)` (e.g. `refreshed`, `invalid_grant`, `transient`).
- `relink_sync_dispatch_tick_duration_seconds`, `relink_sync_dispatch_claimed_total`,
  `relink_sync_dispatch_backlog`: the beat dispatcher's ticks, the accounts they handed out, and
  the due accounts the last tick left waiting (non-zero only when a tick hits
  SYNC_DISPATCH_MAX_PER_TICK)."""

from prometheus_client import Counter, Gauge, Histogram

SYNC_RUNS = Counter("relink_sync_runs_total", "Finished sync runs.", ["integration", "result"])
SYNC_RUN_DURATION = Histogram(
    "relink_sync_run_duration_seconds",
    "Duration of finished sync runs.",
    ["integration", "result"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
PROVIDER_REQUESTS = Counter(
    "relink_provider_requests_total",
    "Outbound provider requests by error class (none: succeeded).",
    ["integration", "error_class"],
)
OAUTH_REFRESHES = Counter(
    "relink_oauth_refreshes_total", "OAuth access-token refreshes by outcome.", ["outcome"]
)
DISPATCH_TICK_DURATION = Histogram(
    "relink_sync_dispatch_tick_duration_seconds",
    "Duration of one beat dispatcher tick (claim + publish).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DISPATCH_CLAIMED = Counter("relink_sync_dispatch_claimed_total", "Due accounts handed out by the dispatcher.")
DISPATCH_BACKLOG = Gauge(
    "relink_sync_dispatch_backlog",
    "Due accounts the last dispatcher tick left waiting for the next one.",
    multiprocess_mode="mostrecent",
)


def sync_run_observe(*, integration: str, result: str, seconds: float) -> None:
    SYNC_RUNS.labels(integration=integration, result=result).inc()
    SYNC_RUN_DURATION.labels(integration=integration, result=result).observe(max(0.0, seconds))


def provider_requests_observe(*, integration: str, error_classes: list[str]) -> None:
    """One run's requests (their error classes; "" for a success)."""
    counts: dict[str, int] = {}
    for error_class in error_classes:
        counts[error_class or "none"] = counts.get(error_class or "none", 0) + 1
    for error_class, n in counts.items():
        PROVIDER_REQUESTS.labels(integration=integration, error_class=error_class).inc(n)


def oauth_refresh_observe(*, outcome: str) -> None:
    OAUTH_REFRESHES.labels(outcome=outcome).inc()


def dispatch_tick_observe(*, seconds: float, claimed: int, backlog: int) -> None:
    DISPATCH_TICK_DURATION.observe(max(0.0, seconds))
    DISPATCH_CLAIMED.inc(claimed)
    DISPATCH_BACKLOG.set(backlog)
