"""/metrics counts what a real Celery worker (prefork: its pool processes write into the shared
PROMETHEUS_MULTIPROC_DIR) does: a sync run, a status change, a provider request, a webhook
delivered to a receiver on a socket. Read from this process, as a scrape of a web process on
the same host reads them."""

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import LinkedAccount
from issues.webhooks.endpoints import webhook_endpoint_create
from syncs.dispatch import sync_queue_now
from syncs.models import SyncRun
from syncs.sandbox_controls import sandbox_revoke_key
from tests.conftest import WorkerProcess, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-token-for-worker-tests-0123"


def _scrape(client: Client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def worker(sandbox_provider):
    process = WorkerProcess(concurrency=2).start()
    yield process
    process.stop()


def test_counters_move_when_a_worker_syncs_changes_a_status_and_delivers_a_webhook(
    settings, owner, receiver, worker
):
    settings.METRICS_TOKEN = TOKEN
    scraper = Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    endpoint, key = webhook_endpoint_create(
        organization=owner.organization, url=receiver.url, events=["LinkedAccount.sync_completed"]
    )
    receiver.signature_key = key
    account, _ = owner.linked_account(origin_id="metrics-1", credentials={"api_key": "sk_sandbox_metrics_1"})
    before = _scrape(scraper)

    # A sync that succeeds, and its sync_completed webhook, delivered.
    sync_queue_now(account=account, reason="metrics test")
    wait_until(
        lambda: SyncRun.objects.filter(linked_account=account, status="DONE").exists(),
        timeout=60,
        message=f"the sync\n{worker.output()[-2000:]}",
    )
    wait_until(lambda: len(receiver.received) >= 1, timeout=60, message="the webhook delivery")
    after = wait_until(
        lambda: (
            (s := _scrape(scraper))
            and _value(s, "relink_webhook_deliveries_total", outcome="SUCCESS")
            > _value(before, "relink_webhook_deliveries_total", outcome="SUCCESS")
            and s
        ),
        timeout=30,
        message="the delivery counted",
    )
    assert _value(after, "relink_sync_runs_total", integration="sandbox", result="DONE") == (
        _value(before, "relink_sync_runs_total", integration="sandbox", result="DONE") + 1
    )
    assert _value(after, "relink_sync_run_duration_seconds_count", integration="sandbox", result="DONE") == (
        _value(before, "relink_sync_run_duration_seconds_count", integration="sandbox", result="DONE") + 1
    )
    assert _value(
        after, "relink_provider_requests_total", integration="sandbox", error_class="none"
    ) > _value(before, "relink_provider_requests_total", integration="sandbox", error_class="none")
    assert _value(after, "relink_webhook_delivery_lag_seconds_count") > _value(
        before, "relink_webhook_delivery_lag_seconds_count"
    )

    # The key is revoked at the provider: the next sync fails with 401 and the account's status
    # changes (in the worker).
    sandbox_revoke_key(api_key="sk_sandbox_metrics_1", tenant=str(owner.organization.pk))
    sync_queue_now(account=account, reason="metrics test, revoked")
    wait_until(
        lambda: LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED",
        timeout=60,
        message=f"RELINK_NEEDED\n{worker.output()[-2000:]}",
    )
    transition = {"from_status": "COMPLETE", "to_status": "RELINK_NEEDED"}
    final = wait_until(
        lambda: (
            (s := _scrape(scraper))
            and _value(s, "relink_linked_account_status_transitions_total", **transition)
            > _value(before, "relink_linked_account_status_transitions_total", **transition)
            and s
        ),
        timeout=30,
        message="the status change counted",
    )
    assert _value(final, "relink_linked_account_status_transitions_total", **transition) == (
        _value(before, "relink_linked_account_status_transitions_total", **transition) + 1
    )
    assert _value(final, "relink_sync_runs_total", integration="sandbox", result="FAILED") == (
        _value(before, "relink_sync_runs_total", integration="sandbox", result="FAILED") + 1
    )
    assert _value(
        final, "relink_provider_requests_total", integration="sandbox", error_class="credentials_rejected"
    ) > _value(
        before, "relink_provider_requests_total", integration="sandbox", error_class="credentials_rejected"
    )
