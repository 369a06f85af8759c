"""Closed months are stored once (accounts.billing_months) and read back: the same answer as the
live computation from the status history, whatever happens to the accounts later; and the
usage API's optional paging."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from accounts import billing
from accounts.billing_months import billing_months_close_previous
from accounts.models import AccountType, BillingMonth, BillingMonthAccount
from accounts.services import linked_account_delete, linked_account_mark_relink_needed

JUNE = date(2026, 6, 1)


def at(day: int, month: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def accounts(owner):
    """Three production accounts COMPLETE all June, one relink-needed from the 20th, a test one."""
    with time_machine.travel(at(1, 6, 0), tick=False) as traveller:
        made = {name: owner.linked_account(origin_id=name)[0] for name in ("a", "b", "c", "flaky")}
        made["tester"] = owner.linked_account(origin_id="tester", account_type=AccountType.TEST)[0]
        traveller.move_to(at(20, 6, 12))
        linked_account_mark_relink_needed(account=made["flaky"], reason="Invalid API key")
    return made


def _api(owner, *, test: bool = False, **params):
    response = owner.client(test=test).get("/api/billing/v1/usage", {"month": "2026-06", **params})
    assert response.status_code == 200, response.content
    return response.json()


def _live(owner, account_type: str | None) -> dict:
    usage = billing.billing_usage(organization=owner.organization, month=JUNE, account_type=account_type)
    usage["accounts"] = sorted(usage["accounts"], key=lambda a: a["linked_account_id"])
    return usage


def _sorted(body: dict) -> dict:
    body = dict(body)
    assert body.pop("next") is None
    body["accounts"] = sorted(body["accounts"], key=lambda a: a["linked_account_id"])
    return body


def test_a_closed_month_is_stored_once_and_reads_as_the_live_computation(owner, accounts):
    with time_machine.travel(at(3, 7), tick=False):
        first = _api(owner)
        again = _api(owner)
        test_view = _api(owner, test=True)
        assert _sorted(first) == _sorted(again) == _live(owner, AccountType.PRODUCTION)
        assert _sorted(test_view) == _live(owner, AccountType.TEST)
    assert first["billable_account_days"] == 3 * 30 + 19  # relink needed from the 20th
    assert BillingMonth.objects.filter(organization=owner.organization, month=JUNE).count() == 2
    assert BillingMonthAccount.objects.filter(organization=owner.organization, month=JUNE).count() == 5


def test_the_current_month_is_never_stored(owner, accounts):
    with time_machine.travel(at(25, 6), tick=False):
        body = _api(owner)
    assert body["is_final"] is False
    assert not BillingMonth.objects.exists()
    # Within the hour after the month ends a late status change may still commit: not stored yet.
    with time_machine.travel(datetime(2026, 7, 1, 0, 30, tzinfo=UTC), tick=False):
        assert _api(owner)["is_final"] is True
    assert not BillingMonth.objects.exists()


def test_accounts_deleted_or_changed_later_leave_a_stored_month_as_it_was(owner, accounts, operator):
    with time_machine.travel(at(3, 7), tick=False) as traveller:
        before = _sorted(_api(owner))
        page_before = operator.get("/billing", {"month": "2026-06"}).content.decode()
        traveller.move_to(at(10, 7))
        linked_account_delete(account=accounts["a"], reason="Deleted through the API")
        linked_account_mark_relink_needed(account=accounts["b"], reason="Invalid API key")
        page_after = operator.get("/billing", {"month": "2026-06"}).content.decode()
        traveller.move_to(at(2, 9))
        after = _sorted(_api(owner))
        first = _api(owner, page_size=2)
        paged = first["accounts"] + _api(owner, page_size=2, cursor=first["next"])["accounts"]
        live = _live(owner, AccountType.PRODUCTION)
    assert after == live  # the stored month, with each account as it is now
    assert paged == live["accounts"]  # paged too (rendered again where the account changed)

    def days(body):
        return {a["linked_account_id"]: (a["billable_days"], a["excluded_days"]) for a in body["accounts"]}

    assert days(after) == days(before)
    assert {k: v for k, v in after.items() if k != "accounts"} == {
        k: v for k, v in before.items() if k != "accounts"
    }
    status = {a["end_user_origin_id"]: a["status"] for a in after["accounts"]}
    assert status["a"] == "DELETED" and status["b"] == "RELINK_NEEDED" and status["c"] == "COMPLETE"
    assert 'id="billable-days">109<' in page_before and 'id="billable-days">109<' in page_after


def test_the_usage_api_pages_by_cursor_when_asked(owner, accounts):
    with time_machine.travel(at(3, 7), tick=False):
        everything = _sorted(_api(owner))
        for stored in (False, True):  # the live computation's pages, then the stored month's
            if stored:
                assert BillingMonth.objects.exists()
            seen, cursor = [], None
            while True:
                page = _api(owner, page_size=3, **({"cursor": cursor} if cursor else {}))
                assert len(page["accounts"]) <= 3
                assert page["billable_account_days"] == everything["billable_account_days"]
                seen += page["accounts"]
                cursor = page["next"]
                if cursor is None:
                    break
            assert seen == everything["accounts"]  # in account-id order, each once
        bad = owner.client().get(
            "/api/billing/v1/usage", {"month": "2026-06", "page_size": 2, "cursor": "nope!"}
        )
        too_big = owner.client().get("/api/billing/v1/usage", {"month": "2026-06", "page_size": 10_001})
    assert bad.status_code == 400 and "cursor" in bad.json()
    assert too_big.status_code == 400 and "page_size" in too_big.json()


def test_the_monthly_job_stores_last_month_for_every_organization(owner, outsider, accounts):
    outsider.linked_account(origin_id="elsewhere")
    with time_machine.travel(at(1, 7, 2), tick=False):
        assert billing_months_close_previous() == 2
        assert billing_months_close_previous() == 0
        assert _sorted(_api(owner)) == _live(owner, AccountType.PRODUCTION)
    stored = BillingMonthAccount.objects.filter(month=JUNE)
    assert stored.filter(organization=owner.organization).count() == 5
    assert stored.filter(organization=outsider.organization).count() == 0  # linked in July: no June days
