"""/healthz and /readyz as a load balancer and a monitor see them: real PostgreSQL (or SQLite), a
real Redis that is stopped, a database that cannot be reached, a dispatcher whose last tick is
too old (time-machine), a webhook delivery that waits too long."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.utils import timezone

from config import health
from issues.models import WebhookDelivery
from issues.webhooks.endpoints import webhook_endpoint_create
from issues.webhooks.events import webhook_event_emit
from syncs.dispatch import sync_dispatch_due
from tests.faults.conftest import PrivateRedis


def _ready(client: Client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


@pytest.fixture
def probe(settings):
    """A load balancer: calls by address, over plain HTTP, with production's host and HTTPS rules."""
    settings.ALLOWED_HOSTS = ["relink.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    return Client(HTTP_HOST="10.0.0.7")


def test_healthz_answers_without_any_dependency(probe):
    # No database access is allowed in this test: /healthz must not need one.
    response = probe.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_is_ready_when_every_check_passes(probe):
    sync_dispatch_due()  # one dispatcher tick
    status, body = _ready(probe)
    assert status == 200, body
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "redis", "migrations", "beat", "webhooks"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db
def test_readyz_names_redis_when_redis_is_stopped(probe, settings):
    redis = PrivateRedis().start()
    try:
        settings.REDIS_URL = redis.url
        settings.CELERY_BROKER_URL = redis.url
        sync_dispatch_due()
        assert _ready(probe)[0] == 200
        redis.stop()
        status, body = _ready(probe)
    finally:
        redis.stop()
        redis.cleanup()
    assert status == 503
    assert body["status"] == "fail" and "redis" in body["failing"]
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["database"]["ok"] and body["checks"]["webhooks"]["ok"]
    assert "127.0.0.1" not in str(body)  # no host names or URLs in the answer


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_database_when_it_is_unreachable(probe):
    sync_dispatch_due()
    assert _ready(probe)[0] == 200
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-dir/relink.sqlite3"
    else:
        connection.settings_dict["HOST"], connection.settings_dict["PORT"] = "127.0.0.1", "1"
    try:
        status, body = _ready(probe)
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert status == 503
    assert body["failing"] == ["database", "migrations", "webhooks"]
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert body["checks"]["migrations"]["error"] == "skipped: database is down"
    assert body["checks"]["redis"]["ok"] and body["checks"]["beat"]["ok"]
    assert _ready(probe)[0] == 200  # the database is back: so is readiness


@pytest.mark.django_db
def test_readyz_fails_when_the_dispatcher_has_not_ticked_within_three_intervals(probe, settings):
    settings.SYNC_DISPATCH_INTERVAL_SECONDS = 5
    settings.READYZ_BEAT_MAX_AGE_SECONDS = 15
    sync_dispatch_due()
    assert _ready(probe)[0] == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=10)):
        assert _ready(probe)[0] == 200  # two intervals: still fine
    with time_machine.travel(timezone.now() + timedelta(seconds=16)):
        status, body = _ready(probe)
    assert status == 503 and body["failing"] == ["beat"]
    beat = body["checks"]["beat"]
    assert beat["error"] == "the sync dispatcher has not ticked within 3 intervals"
    assert beat["last_tick_seconds_ago"] >= 16 and beat["max_age_seconds"] == 15


@pytest.mark.django_db
def test_readyz_fails_when_a_due_webhook_delivery_waits_too_long(probe, settings, owner):
    settings.READYZ_WEBHOOK_MAX_LAG_SECONDS = 300
    sync_dispatch_due()
    webhook_endpoint_create(organization=owner.organization, url="http://127.0.0.1:9/hooks")
    account, _ = owner.linked_account()
    webhook_event_emit(
        organization=owner.organization,
        event="LinkedAccount.sync_completed",
        account_details={"id": str(account.pk)},
        data={},
    )
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=600))
    status, body = _ready(probe)
    assert status == 503 and body["failing"] == ["webhooks"]
    assert body["checks"]["webhooks"]["oldest_due_seconds"] >= 600
    assert str(owner.organization.pk) not in str(body) and str(account.pk) not in str(body)


@pytest.mark.django_db
def test_readyz_fails_while_a_migration_is_not_applied(probe, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    sync_dispatch_due()
    # The issues app's migration (squashed: with the ones it replaces) not applied.
    MigrationRecorder.Migration.objects.filter(app="issues").delete()
    status, body = _ready(probe)
    assert status == 503 and body["failing"] == ["migrations"]
    assert body["checks"]["migrations"]["unapplied"] == 1
