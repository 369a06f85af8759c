"""Merge's own Python SDK against a live Relink: employees, sync status, force resync."""

import pytest
from merge import Merge

from syncs import runs, tasks
from tests.merge_sdk import every_page

from .categories import link_sandbox_account


@pytest.mark.django_db(transaction=True)
def test_merge_sdk_employees_sync_status_and_resync(live_server, owner, sandbox_provider, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.sync_account, "apply_async", lambda args, kwargs: queued.append(args))
    account, token = owner.linked_account(origin_id="sdk-sync")
    assert runs.sync_run_account(account_id=str(account.pk), trigger="schedule").status == "DONE"
    merge = Merge(base_url=f"{live_server.url}/api", api_key=owner.production_key, account_token=token)

    seen = every_page(merge.hris.employees.list, page_size=60)
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


@pytest.mark.django_db(transaction=True)
def test_merge_sdk_ats_candidates_and_crm_contacts(live_server, owner, sandbox_provider, monkeypatch):
    monkeypatch.setattr(tasks.sync_account, "apply_async", lambda args, kwargs: None)  # linking queues one
    ats, ats_token = link_sandbox_account(owner, category="ats", origin_id="sdk-ats")
    crm, crm_token = link_sandbox_account(owner, category="crm", origin_id="sdk-crm")
    for account in (ats, crm):
        assert runs.sync_run_account(account_id=str(account.pk), trigger="schedule").status == "DONE"
    base = f"{live_server.url}/api"

    merge = Merge(base_url=base, api_key=owner.test_key, account_token=ats_token)
    seen = every_page(merge.ats.candidates.list, page_size=80)
    assert len(seen) == 200 and len({c.id for c in seen}) == 200
    ken = next(c for c in seen if c.remote_id == "cand_0007")
    assert (ken.first_name, ken.company, ken.can_email) == ("Ken", "Globex", True)
    assert ken.email_addresses[0].value == "ken.lovelace.7@mail.example"
    assert ken.email_addresses[0].email_address_type == "PERSONAL"
    assert ken.phone_numbers[0].phone_number_type == "MOBILE" and ken.urls[0].url_type == "PORTFOLIO"
    assert merge.ats.candidates.retrieve(ken.id).remote_id == "cand_0007"
    assert [c.remote_id for c in merge.ats.candidates.list(remote_id="cand_0003").results] == ["cand_0003"]
    assert [s.model_id for s in merge.ats.sync_status.list().results] == ["ats.Candidate"]

    merge = Merge(base_url=base, api_key=owner.test_key, account_token=crm_token)
    contacts = merge.crm.contacts.list(page_size=100)
    assert len(contacts.results) == 100 and contacts.next
    assert len(merge.crm.contacts.list(cursor=contacts.next, page_size=100).results) == 100
    ken = merge.crm.contacts.list(remote_id="con_0007").results[0]
    assert ken.email_addresses[0].email_address == "ken.lovelace.7@customer.example"
    assert [p.phone_number for p in ken.phone_numbers] == ["+1-555-1007", "+1-555-5007"]
    assert ken.addresses[0].city == "Toronto" and ken.last_activity_at.year == 2025
    assert merge.crm.contacts.retrieve(ken.id).remote_id == "con_0007"
    assert [s.model_id for s in merge.crm.sync_status.list().results] == ["crm.Contact"]
