"""End to end with the real pieces: a Celery worker (with beat) in a subprocess, the real Redis,
the sandbox provider on a socket, and a webhook receiver on a socket."""

import pytest
from django.utils import timezone

from accounts.models import AccountType, LinkedAccount
from issues.models import Issue
from issues.webhooks.endpoints import webhook_endpoint_create
from syncs.models import SyncRun
from tests.conftest import WorkerProcess, wait_until
from tests.issues.receiver import Receiver


def _status(account) -> str:
    return LinkedAccount.objects.get(pk=account.pk).status


def _make_due(account) -> None:
    # Stands in for the clock reaching next_sync_at (the schedule itself is tested elsewhere).
    LinkedAccount.objects.filter(pk=account.pk).update(next_sync_at=timezone.now())


def _events(receiver: Receiver, account) -> list[str]:
    return [
        r.json["hook"]["event"]
        for r in list(receiver.received)
        if r.json.get("linked_account", {}).get("id") == str(account.pk)
    ]


@pytest.fixture
def worker(transactional_db, sandbox_provider, monkeypatch):
    monkeypatch.setenv("SYNC_DISPATCH_INTERVAL_SECONDS", "0.5")
    monkeypatch.setenv("SYNC_HTTP_TIMEOUT_SECONDS", "2")
    w = WorkerProcess(concurrency=2, beat=True)
    yield w
    w.stop()


@pytest.mark.django_db(transaction=True)
def test_schedule_revoke_outage_resync_end_to_end(owner, sandbox_provider, receiver, worker):
    endpoint, key = webhook_endpoint_create(organization=owner.organization, url=receiver.url)
    receiver.signature_key = key
    account, token = owner.linked_account(origin_id="e2e-1", account_type=AccountType.TEST)
    other, other_token = owner.linked_account(origin_id="e2e-2", account_type=AccountType.TEST)
    _make_due(account)
    _make_due(other)
    worker.start()
    api = owner.client(test=True, account_token=token)

    # 1. On schedule: both sync, the data is served.
    wait_until(
        lambda: SyncRun.objects.filter(status="DONE", trigger="schedule").count() == 2,
        timeout=60,
        message=f"two scheduled syncs\n{worker.output()[-3000:]}",
    )
    body = api.get("/api/hris/v1/employees", {"page_size": 100}).json()
    assert len(body["results"]) == 100 and body["next"]
    wait_until(lambda: "LinkedAccount.sync_completed" in _events(receiver, account), message="sync_completed")

    # 2. The end user's key is revoked: the next scheduled sync gets 401.
    assert api.post("/api/sandbox/v1/reset-login").status_code == 200
    _make_due(account)
    wait_until(lambda: _status(account) == "RELINK_NEEDED", timeout=60, message="RELINK_NEEDED")
    run = SyncRun.objects.filter(linked_account=account).order_by("-started_at").first()
    assert run.status == "FAILED" and run.error_class == "credentials_rejected"
    issue = Issue.objects.get(linked_account=account, status="ONGOING")
    assert issue.error_description == "Invalid API key"
    wait_until(
        lambda: {"Issue.new", "LinkedAccount.status_changed"} <= set(_events(receiver, account)),
        timeout=60,
        message=f"Issue.new and status_changed delivered: {_events(receiver, account)}",
    )

    def changes_to_relink_needed():
        # Deliveries are at least once and unordered: the earlier COMPLETE change may land later.
        return [
            r.json["data"]
            for r in list(receiver.received)
            if r.json["hook"]["event"] == "LinkedAccount.status_changed"
            and r.json["linked_account"]["id"] == str(account.pk)
            and r.json["data"]["to"] == "RELINK_NEEDED"
        ]

    changed = wait_until(changes_to_relink_needed, timeout=60, message="status_changed to RELINK_NEEDED")
    assert changed[0]["from"] == "COMPLETE" and changed[0]["reason"]
    assert all(r.merge_signature_ok for r in receiver.received)
    # The last good data is still served.
    assert len(api.get("/api/hris/v1/employees").json()["results"]) == 100
    # No further scheduled sync: due again together with the other (healthy) account; once a
    # dispatch tick has run the other one, that tick saw this one due too and left it alone.
    runs = SyncRun.objects.filter(linked_account=account).count()
    other_runs = SyncRun.objects.filter(linked_account=other).count()
    _make_due(account)
    _make_due(other)
    wait_until(
        lambda: SyncRun.objects.filter(linked_account=other).exclude(status="RUNNING").count() > other_runs,
        timeout=60,
        message="a dispatch tick ran the other account",
    )
    assert SyncRun.objects.filter(linked_account=account).count() == runs

    # 3. A provider outage (every request 500) for the other account.
    other_api = owner.client(test=True, account_token=other_token)
    assert (
        other_api.post("/api/sandbox/v1/provider-outage", {"mode": "http_500"}, format="json").status_code
        == 200
    )
    _make_due(other)
    wait_until(lambda: _status(other) == "RELINK_NEEDED", timeout=60, message="outage -> RELINK_NEEDED")
    offline = Issue.objects.get(linked_account=other, status="ONGOING")
    assert offline.error_description == "Third-party offline"
    assert len(other_api.get("/api/hris/v1/employees").json()["results"]) == 100

    # 4. The outage ends; a resync brings it back and resolves the issue.
    assert (
        other_api.post("/api/sandbox/v1/provider-outage", {"mode": "none"}, format="json").status_code == 200
    )
    response = other_api.post("/api/hris/v1/sync-status/resync")
    assert response.status_code == 200 and isinstance(response.json(), list)
    wait_until(lambda: _status(other) == "COMPLETE", timeout=60, message="resync -> COMPLETE")
    offline.refresh_from_db()
    assert offline.status == "RESOLVED"
    wait_until(lambda: "Issue.resolved" in _events(receiver, other), timeout=60, message="Issue.resolved")
    rows = other_api.get("/api/hris/v1/sync-status").json()["results"]
    assert rows[0]["status"] == "DONE"
