"""GET /employees, /employees/{id}, /sync-status, POST /sync-status/resync and the sandbox
helpers, as an API client sees them."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from accounts.models import AccountType, LinkedAccount
from syncs import runs, sandbox_controls
from syncs.models import Employee, SyncRun
from syncs.serializers import EmployeeSerializer, employees_as_api


def _sync(account, trigger="schedule"):
    return runs.sync_run_account(account_id=str(account.pk), trigger=trigger)


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
def test_employees_are_written_exactly_as_the_employee_serializer_writes_them(owner):
    """employees_as_api is EmployeeSerializer written out for speed: the same keys in the same
    order and the same values, nulls, booleans and date-time formats included."""
    account, token = owner.linked_account(origin_id="shape-1")
    when = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
    Employee.objects.create(
        linked_account=account,
        remote_id="full",
        employee_number="E-1",
        first_name="Ada",
        last_name="Lovelace",
        display_full_name="Ada Lovelace",
        work_email="ada@example.com",
        personal_email="ada@home.example",
        mobile_phone_number="+44 20 0000 0000",
        employment_status="ACTIVE",
        start_date=when,
        termination_date=when + timedelta(days=400),
        remote_created_at=datetime(2020, 1, 1, tzinfo=UTC),
        modified_at=when,
    )
    Employee.objects.create(linked_account=account, remote_id="sparse", modified_at=when)
    Employee.objects.create(
        linked_account=account, remote_id="gone", remote_was_deleted=True, modified_at=when
    )
    rows = list(Employee.objects.filter(linked_account=account).order_by("-id"))
    expected = json.loads(JSONRenderer().render(EmployeeSerializer(rows, many=True).data))

    client = owner.client(account_token=token)
    listed = client.get("/api/hris/v1/employees", {"include_deleted_data": "true"}).json()["results"]
    assert listed == expected
    assert [list(item) for item in listed] == [list(item) for item in expected]
    full = next(item for item in listed if item["remote_id"] == "full")
    assert full["start_date"] == "2024-02-29T23:59:58.123456Z" and full["groups"] == []
    for item in expected:
        one = client.get(f"/api/hris/v1/employees/{item['id']}", {"include_deleted_data": "true"})
        assert one.json() == item
    # In another current time zone both write the same local times too.
    with timezone.override("America/New_York"):
        assert employees_as_api(rows) == EmployeeSerializer(rows, many=True).data


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
    sandbox_controls.sandbox_revoke_key(api_key="sk_sandbox_api-1", tenant=str(account.organization_id))
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


@pytest.mark.django_db
def test_sync_status_reads_the_organization_settings_fresh_while_the_key_is_cached(owner, settings):
    """The API key is trusted from the process's cache for a few seconds; the organization's
    own settings are still read from the database (a manual-sync organization shows DISABLED)."""
    settings.API_KEY_CACHE_SECONDS = 60
    organizations = type(owner.organization).objects.filter(pk=owner.organization.pk)
    account, token = owner.linked_account(origin_id="fresh-1")
    # Never synced, due now, and following the organization's frequency.
    LinkedAccount.objects.filter(pk=account.pk).update(sync_frequency="", next_sync_at=timezone.now())
    client = owner.client(account_token=token)

    def status():
        return client.get("/api/hris/v1/sync-status").json()["results"][0]["status"]

    assert status() == "SYNCING"
    organizations.update(default_sync_frequency="manual")
    assert status() == "DISABLED"
    organizations.update(default_sync_frequency="1h")
    assert status() == "SYNCING"


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
    assert (str(account.organization_id), "sk_sandbox_sb-1") not in sandbox_provider.state.revoked
    assert not sandbox_provider.state.revoked


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
