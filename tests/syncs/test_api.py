"""GET /employees, /employees/{id}, /sync-status, POST /sync-status/resync and the sandbox
helpers, as an API client sees them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountType, LinkedAccount
from syncs import services
from syncs.models import Employee, SyncRun


def _sync(account, trigger="schedule"):
    return services.sync_run_account(account_id=str(account.pk), trigger=trigger)


@pytest.fixture
def synced(owner, sandbox_provider):
    account, token = owner.linked_account(origin_id="api-1")
    assert _sync(account).status == "DONE"
    return account, token


@pytest.mark.django_db
def test_employees_list_pages_with_cursor_in_merge_field_names(owner, synced):
    account, token = synced
    client = owner.client(account_token=token)
    seen, cursor = [], None
    while True:
        response = client.get(
            "/api/hris/v1/employees", {"page_size": 70, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200
        body = response.json()
        seen += body["results"]
        cursor = body["next"]
        if not cursor:
            break
    assert len(seen) == 200 and len({e["id"] for e in seen}) == 200
    first = seen[0]
    for field in (
        "id",
        "remote_id",
        "first_name",
        "last_name",
        "display_full_name",
        "work_email",
        "employment_status",
        "remote_was_deleted",
        "created_at",
        "modified_at",
    ):
        assert field in first
    one = client.get(f"/api/hris/v1/employees/{first['id']}")
    assert one.status_code == 200 and one.json()["remote_id"] == first["remote_id"]
    by_remote = client.get("/api/hris/v1/employees", {"remote_id": "emp_0007"}).json()["results"]
    assert [e["remote_id"] for e in by_remote] == ["emp_0007"]
    future = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert client.get("/api/hris/v1/employees", {"modified_after": future}).json()["results"] == []
    assert client.get("/api/hris/v1/employees", {"page_size": 500}).status_code == 400
    bad = client.get("/api/hris/v1/employees", {"modified_after": "yesterday"})
    assert bad.status_code == 400 and "modified_after" in bad.json()


@pytest.mark.django_db
def test_deleted_remote_records_are_flagged_and_hidden_by_default(owner, synced):
    account, token = synced
    # A record the provider no longer returns: simulate by adding one it never had.
    stale = Employee.objects.create(linked_account=account, remote_id="emp_9999", modified_at=timezone.now())
    assert _sync(account).records_deleted == 1
    stale.refresh_from_db()
    assert stale.remote_was_deleted
    client = owner.client(account_token=token)
    assert client.get(f"/api/hris/v1/employees/{stale.id}").status_code == 404
    assert (
        client.get(f"/api/hris/v1/employees/{stale.id}", {"include_deleted_data": "true"}).status_code == 200
    )
    hidden = client.get("/api/hris/v1/employees", {"remote_id": "emp_9999"}).json()["results"]
    shown = client.get(
        "/api/hris/v1/employees", {"remote_id": "emp_9999", "include_deleted_data": "true"}
    ).json()["results"]
    assert hidden == [] and shown[0]["remote_was_deleted"] is True


@pytest.mark.django_db
def test_employees_are_tenant_isolated(owner, outsider, synced):
    account, token = synced
    employee = Employee.objects.filter(linked_account=account).first()
    other, other_token = outsider.linked_account(origin_id="api-1")
    # The outsider's key with the owner's token: the token is not theirs.
    response = outsider.client(account_token=token).get("/api/hris/v1/employees")
    assert response.status_code == 401 and response.json()["header"] == "X-Account-Token"
    # The outsider's own account cannot reach the owner's employee.
    assert (
        outsider.client(account_token=other_token).get(f"/api/hris/v1/employees/{employee.id}").status_code
        == 404
    )
    # A test key never sees production data.
    assert owner.client(test=True, account_token=token).get("/api/hris/v1/employees").status_code == 401
    # Data endpoints only exist in their category.
    assert owner.client(account_token=token).get("/api/ats/v1/employees").status_code == 404


@pytest.mark.django_db
def test_employees_still_served_while_relink_needed(owner, synced):
    account, token = synced
    services.sandbox_revoke_key(api_key="sk_sandbox_api-1")
    assert _sync(account).status == "FAILED"
    assert LinkedAccount.objects.get(pk=account.pk).status == "RELINK_NEEDED"
    body = owner.client(account_token=token).get("/api/hris/v1/employees").json()
    assert len(body["results"]) == 100 and body["next"]
    rows = owner.client(account_token=token).get("/api/hris/v1/sync-status").json()["results"]
    assert rows[0]["status"] == "PAUSED" and rows[0]["last_sync_result"] == "FAILED"


@pytest.mark.django_db
def test_sync_status_rows(owner, sandbox_provider):
    account, token = owner.linked_account(origin_id="st-1")
    client = owner.client(account_token=token)
    rows = client.get("/api/hris/v1/sync-status").json()
    assert rows["next"] is None
    [row] = rows["results"]
    assert row["model_id"] == "hris.Employee" and row["is_initial_sync"] is True
    assert row["last_sync_start"] is None
    _sync(account)
    [row] = client.get("/api/hris/v1/sync-status").json()["results"]
    assert row["status"] == "DONE" and row["last_sync_result"] == "DONE"
    assert row["is_initial_sync"] is False and row["next_sync_start"] is not None


@pytest.mark.django_db(transaction=True)
def test_resync_queues_a_sync_and_returns_a_plain_list(owner, sandbox_provider, monkeypatch):
    queued = []
    from syncs import tasks

    monkeypatch.setattr(tasks.sync_account, "apply_async", lambda args, kwargs: queued.append((args, kwargs)))
    account, token = owner.linked_account(origin_id="rs-1")
    response = owner.client(account_token=token).post("/api/hris/v1/sync-status/resync")
    assert response.status_code == 200
    body = response.json()
    assert (
        isinstance(body, list) and body[0]["model_id"] == "hris.Employee" and body[0]["status"] == "SYNCING"
    )
    assert queued == [
        ([str(account.pk)], {"trigger": "forced", "reason": "Resync requested through the API"})
    ]


@pytest.mark.django_db
def test_sandbox_helpers_need_a_test_key(owner, sandbox_provider):
    account, token = owner.linked_account(origin_id="sb-1")
    response = owner.client(account_token=token).post("/api/sandbox/v1/reset-login")
    assert response.status_code == 403
    response = owner.client(account_token=token).post(
        "/api/sandbox/v1/provider-outage", {"mode": "http_500"}, format="json"
    )
    assert response.status_code == 403
    assert "sk_sandbox_sb-1" not in sandbox_provider.state.revoked


@pytest.mark.django_db
def test_sandbox_reset_login_and_outage_reach_the_provider(owner, sandbox_provider):
    account, token = owner.linked_account(origin_id="sb-2", account_type=AccountType.TEST)
    client = owner.client(test=True, account_token=token)
    bad = client.post("/api/sandbox/v1/provider-outage", {"mode": "meteor"}, format="json")
    assert bad.status_code == 400 and "mode" in bad.json()
    assert (
        client.post("/api/sandbox/v1/provider-outage", {"mode": "http_500"}, format="json").status_code == 200
    )
    assert _sync(account).error_class == "provider_offline"
    assert client.post("/api/sandbox/v1/provider-outage", {"mode": "none"}, format="json").status_code == 200
    assert _sync(account, trigger="forced").status == "DONE"
    assert client.post("/api/sandbox/v1/reset-login").status_code == 200
    assert _sync(account).error_class == "credentials_rejected"
    assert SyncRun.objects.filter(linked_account=account).count() == 3
    # Without a token: a clear 401 naming the header.
    response = owner.client(test=True).post("/api/sandbox/v1/reset-login")
    assert response.status_code == 401 and response.json()["header"] == "X-Account-Token"


@pytest.mark.django_db(transaction=True)
def test_admin_force_resync_action_queues_syncs(owner, sandbox_provider, monkeypatch, admin_client):
    from syncs import tasks

    queued = []
    monkeypatch.setattr(tasks.sync_account, "apply_async", lambda args, kwargs: queued.append(args))
    account, _ = owner.linked_account(origin_id="adm-1")
    run = _sync(account)
    assert admin_client.get("/admin/syncs/syncrun/").status_code == 200
    assert admin_client.get("/admin/syncs/requestlog/").status_code == 200
    assert admin_client.get("/admin/syncs/employee/").status_code == 200
    response = admin_client.post(
        "/admin/syncs/syncrun/", {"action": "force_resync", "_selected_action": [str(run.pk)]}
    )
    assert response.status_code == 302
    assert queued == [[str(account.pk)]]
