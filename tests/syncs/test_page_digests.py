"""Repeat syncs against the sandbox provider on a real socket, whose pages (100 employees each)
are changed between runs: pages identical to the last stored run's are skipped, and what is
stored stays exactly what a full pass would store (changes, deletions, out-of-band rows)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from syncs import page_digests, runs
from syncs import sandbox_provider as sandbox_module
from syncs.models import Employee, SyncRun


def _sync(account):
    return runs.sync_run_account(account_id=str(account.pk), trigger="schedule")


def _serve(monkeypatch, employees: list[dict]) -> None:
    """What the sandbox answers for /v1/employees from now on."""
    monkeypatch.setitem(sandbox_module.RESOURCES, "/v1/employees", employees)


def _synced_once(owner, origin_id: str):
    """A new account after its first sync, and a copy of the sandbox's employees to edit."""
    account, _ = owner.linked_account(origin_id=origin_id)
    _sync(account)
    return account, [dict(e) for e in sandbox_module.RESOURCES["/v1/employees"]]


def _live(account) -> int:
    return Employee.objects.filter(linked_account=account, remote_was_deleted=False).count()


@pytest.mark.django_db
def test_unchanged_pages_are_skipped_and_the_run_is_still_counted(owner, sandbox_provider):
    account, _ = owner.linked_account(origin_id="pd1")
    first = _sync(account)
    assert first.status == "DONE" and first.records_created == 200
    stored = first.page_digests
    assert len(stored["models"]["hris.Employee"]) == 2 and stored["rows"] == {"hris.Employee": 200}
    before = dict(Employee.objects.filter(linked_account=account).values_list("remote_id", "modified_at"))
    with CaptureQueriesContext(connection) as queries:
        again = _sync(account)
    assert again.status == "DONE" and again.records_fetched == 200
    assert (again.records_created, again.records_updated, again.records_deleted) == (0, 0, 0)
    assert again.model_counts["hris.Employee"]["fetched"] == 200
    # Nothing mapped or read back: the stored digests of the rows were not even selected.
    assert not any("content_hash" in q["sql"] and q["sql"].lstrip().startswith("SELECT") for q in queries)
    # The full pass the skip relies on is still the first run's.
    assert again.page_digests["full_pass_at"] == stored["full_pass_at"]
    assert (
        dict(Employee.objects.filter(linked_account=account).values_list("remote_id", "modified_at"))
        == before
    )
    assert again.requests_total == 2 and again.requests.count() == 2


@pytest.mark.django_db
def test_a_changed_page_is_stored_and_the_identical_one_keeps_its_records(
    owner, sandbox_provider, monkeypatch
):
    account, employees = _synced_once(owner, "pd2")
    employees[150]["first_name"] = "Changed"
    _serve(monkeypatch, employees)
    run = _sync(account)
    assert (run.records_created, run.records_updated, run.records_deleted) == (0, 1, 0)
    assert run.records_fetched == 200 and _live(account) == 200
    assert (
        Employee.objects.get(linked_account=account, remote_id=employees[150]["id"]).first_name == "Changed"
    )
    # One record gone from the second page: flagged, and the first page's records are not.
    _serve(monkeypatch, employees[:150] + employees[151:])
    run = _sync(account)
    assert (run.records_created, run.records_updated, run.records_deleted) == (0, 0, 1)
    assert _live(account) == 199
    gone = Employee.objects.get(linked_account=account, remote_id=employees[150]["id"])
    assert gone.remote_was_deleted
    # It comes back on the second page, and one record is new: both stored, nothing else.
    _serve(monkeypatch, [*employees, {**employees[0], "id": "emp_new"}])
    run = _sync(account)
    assert (run.records_created, run.records_updated, run.records_deleted) == (1, 1, 0)
    assert _live(account) == 201


@pytest.mark.django_db
def test_a_record_moved_between_an_identical_and_a_changed_page_is_stored_once(
    owner, sandbox_provider, monkeypatch
):
    account, employees = _synced_once(owner, "pd3")
    # The first page's record 0 appears again, changed, on the second page.
    _serve(monkeypatch, [*employees, {**employees[0], "first_name": "Twice"}])
    run = _sync(account)
    assert run.status == "DONE" and run.records_deleted == 0 and _live(account) == 200
    assert Employee.objects.get(linked_account=account, remote_id=employees[0]["id"]).first_name == "Twice"


@pytest.mark.django_db
def test_rows_removed_or_added_out_of_band_make_the_run_store_every_page(owner, sandbox_provider):
    account, _ = owner.linked_account(origin_id="pd4")
    _sync(account)
    Employee.objects.filter(linked_account=account, remote_id="emp_0007").delete()
    run = _sync(account)
    assert run.records_created == 1 and _live(account) == 200
    assert run.page_digests["rows"] == {"hris.Employee": 200}


@pytest.mark.django_db
def test_digests_are_not_used_after_a_partial_run_a_mapping_change_or_a_day(
    owner, sandbox_provider, monkeypatch
):
    account, _ = owner.linked_account(origin_id="pd5")
    first = _sync(account)
    # A record that cannot be mapped: the run is partial and keeps no digests.
    employees = [dict(e) for e in sandbox_module.RESOURCES["/v1/employees"]]
    _serve(monkeypatch, [*employees, {"id": None}])
    partial = _sync(account)
    assert partial.status == "PARTIALLY_SYNCED" and partial.page_digests is None
    monkeypatch.undo()
    after_partial = _sync(account)
    assert after_partial.status == "DONE"
    assert after_partial.page_digests["full_pass_at"] > first.page_digests["full_pass_at"]
    # Another salt (the mapping code changed): a full pass again.
    monkeypatch.setitem(page_digests._salts, "sandbox", "another deploy")
    changed = _sync(account)
    assert changed.page_digests["salt"] == "another deploy"
    assert changed.page_digests["full_pass_at"] > after_partial.page_digests["full_pass_at"]
    # A day after the last full pass: a full pass again.
    skipped = _sync(account)
    assert skipped.page_digests["full_pass_at"] == changed.page_digests["full_pass_at"]
    old = {**skipped.page_digests, "full_pass_at": "2000-01-01T00:00:00+00:00"}
    SyncRun.objects.filter(pk=skipped.pk).update(page_digests=old)
    refreshed = _sync(account)
    assert refreshed.page_digests["full_pass_at"] > changed.page_digests["full_pass_at"]
