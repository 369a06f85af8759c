"""Health endpoints for load balancers and monitors (served by config/middleware.py).

`/healthz`: the process answers (no dependency is asked): restart it when this fails.
`/readyz`: the service can do its job: the database answers, Redis answers, every migration is
applied, the beat dispatcher ticked within 3 intervals, and no due webhook delivery has waited
longer than READYZ_WEBHOOK_MAX_LAG_SECONDS. 200 or 503, with a JSON body naming each check.
The body says only whether each check passed and why not (an error class, an age in seconds):
no secrets, no tenant data, no host names."""

import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from issues.selectors import webhook_delivery_oldest_due_at
from syncs.heartbeat import sync_dispatch_last_tick

Check = Callable[[], dict[str, Any]]

# Once every migration is applied it stays so for this process's code: asked again only until then.
_migrations_applied = False


def _failed(exc: BaseException) -> dict[str, Any]:
    return {"ok": False, "error": type(exc).__name__}


def check_database() -> dict[str, Any]:
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def check_redis() -> dict[str, Any]:
    timeout = settings.READYZ_TIMEOUT_SECONDS
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
    return {"ok": True}


def check_migrations() -> dict[str, Any]:
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            return {"ok": False, "error": "unapplied migrations", "unapplied": len(pending)}
        _migrations_applied = True
    return {"ok": True}


def check_beat() -> dict[str, Any]:
    limit = settings.READYZ_BEAT_MAX_AGE_SECONDS
    last = sync_dispatch_last_tick()
    if last is None:
        return {"ok": False, "error": "the sync dispatcher has not ticked", "max_age_seconds": limit}
    age = round(max(0.0, time.time() - last), 1)
    result: dict[str, Any] = {"ok": age <= limit, "last_tick_seconds_ago": age, "max_age_seconds": limit}
    if not result["ok"]:
        result["error"] = "the sync dispatcher has not ticked within 3 intervals"
    return result


def check_webhooks() -> dict[str, Any]:
    limit = settings.READYZ_WEBHOOK_MAX_LAG_SECONDS
    now = timezone.now()
    oldest = webhook_delivery_oldest_due_at(now=now)
    age = round((now - oldest).total_seconds(), 1) if oldest else 0.0
    result: dict[str, Any] = {"ok": age <= limit, "oldest_due_seconds": age, "max_lag_seconds": limit}
    if not result["ok"]:
        result["error"] = "a due webhook delivery has waited too long"
    return result


READINESS_CHECKS: dict[str, Check] = {
    "database": check_database,
    "redis": check_redis,
    "migrations": check_migrations,
    "beat": check_beat,
    "webhooks": check_webhooks,
}
# A check that needs another one is skipped while that one fails (one cause, one failure).
_NEEDS = {"migrations": "database", "webhooks": "database", "beat": "redis"}


def readiness() -> tuple[bool, dict[str, dict[str, Any]]]:
    results: dict[str, dict[str, Any]] = {}
    for name, check in READINESS_CHECKS.items():
        needed = _NEEDS.get(name)
        if needed and not results[needed]["ok"]:
            results[name] = {"ok": False, "error": f"skipped: {needed} is down"}
            continue
        try:
            results[name] = check()
        except Exception as exc:  # a failed check is an answer, not an error page
            results[name] = _failed(exc)
    if not results["database"]["ok"]:
        # Leave no broken connection behind for the next request of this thread.
        connections[DEFAULT_DB_ALIAS].close()
    return all(r["ok"] for r in results.values()), results


def healthz(request: HttpRequest) -> JsonResponse:
    return _no_store(JsonResponse({"status": "ok"}))


def readyz(request: HttpRequest) -> JsonResponse:
    ready, checks = readiness()
    failing = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "ok" if ready else "fail", "failing": failing, "checks": checks}
    return _no_store(JsonResponse(body, status=200 if ready else 503))


def _no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    return response
