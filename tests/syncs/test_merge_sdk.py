"""Merge's own Python SDK against a live Relink: employees, sync status, force resync."""

import pytest
from merge import Merge

from syncs import runs, tasks


@pytest.mark.django_db(transaction=True)
def test_merge_sdk_employees_sync_status_and_resync(live_server, owner, sandbox_provider, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.sync_account, "apply_async", lambda args, kwargs: queued.append(args))
    account, token = owner.linked_account(origin_id="sdk-sync")
    assert runs.sync_run_account(account_id=str(account.pk), trigger="schedule").status == "DONE"
    merge = Merge(base_url=f"{live_server.url}/api", api_key=owner.production_key, account_token=token)

    seen, cursor = [], None
    while True:
        page = merge.hris.employees.list(cursor=cursor, page_size=60)
        seen += page.results
        if not page.next:
            break
        cursor = page.next
    assert len(seen) == 200 and len({e.id for e in seen}) == 200
    ada = next(e for e in seen if e.remote_id == "emp_0010")
    assert ada.first_name == "Ada" and ada.employment_status == "ACTIVE" and ada.remote_was_deleted is False
    assert merge.hris.employees.retrieve(ada.id).remote_id == "emp_0010"
    assert [e.remote_id for e in merge.hris.employees.list(remote_id="emp_0003").results] == ["emp_0003"]

    statuses = merge.hris.sync_status.list()
    assert [s.model_id for s in statuses.results] == ["hris.Employee"]
    assert statuses.results[0].status == "DONE" and statuses.results[0].is_initial_sync is False

    resynced = merge.hris.force_resync.sync_status_resync_create()
    assert [s.model_id for s in resynced] == ["hris.Employee"] and resynced[0].status == "SYNCING"
    assert queued == [[str(account.pk)]]
