"""Billing from the status history: the service, GET /api/billing/v1/usage, the page and its CSV."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
import time_machine

from accounts.billing import billing_usage
from accounts.models import AccountType
from accounts.services import (
    linked_account_delete,
    linked_account_mark_complete,
    linked_account_mark_relink_needed,
)

JUNE = date(2026, 6, 1)  # 30 days


def at(day: int, hour: int = 10, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def june(owner):
    """One account COMPLETE for 10 days, RELINK_NEEDED for 5, COMPLETE for the other 15;
    a COMPLETE test account; an account that never finished linking."""
    with time_machine.travel(datetime(2026, 6, 1, 0, 0, tzinfo=UTC), tick=False) as traveller:
        billed, _ = owner.linked_account(origin_id="billed")
        test_account, _ = owner.linked_account(origin_id="tester", account_type=AccountType.TEST)
        incomplete, _ = owner.linked_account(origin_id="unfinished", complete=False)
        traveller.move_to(at(11))
        linked_account_mark_relink_needed(account=billed, reason="Invalid API key")
        traveller.move_to(at(16))
        linked_account_mark_complete(account=billed, reason="Relinked")
        # A relink in the middle of a day and back: the state at the day's end is what counts.
        traveller.move_to(at(20, 9))
        linked_account_mark_relink_needed(account=billed, reason="Invalid API key")
        traveller.move_to(at(20, 11))
        linked_account_mark_complete(account=billed, reason="Relinked")
    return {"billed": billed, "test": test_account, "incomplete": incomplete}


def _by_origin(usage):
    return {a["end_user_origin_id"]: a for a in usage["accounts"]}


def test_relink_needed_days_are_not_billed(owner, june):
    with time_machine.travel(at(3, month=7), tick=False):
        usage = billing_usage(organization=owner.organization, month=JUNE)
    accounts = _by_origin(usage)
    assert accounts["billed"]["billable_days"] == 25
    assert accounts["billed"]["excluded_days"]["relink_needed"] == 5
    assert accounts["tester"]["billable_days"] == 0
    assert accounts["tester"]["excluded_days"]["test"] == 30
    assert accounts["unfinished"]["billable_days"] == 0
    assert accounts["unfinished"]["excluded_days"]["incomplete"] == 30
    assert usage["billable_account_days"] == 25
    assert usage["days_in_month"] == 30
    assert usage["average_billable_accounts"] == pytest.approx(25 / 30, abs=0.01)
    assert usage["excluded_account_days"] == {"relink_needed": 5, "incomplete": 30, "test": 30, "deleted": 0}
    assert usage["is_final"] is True


def test_deleting_next_month_does_not_change_last_month(owner, june):
    with time_machine.travel(at(3, month=7), tick=False) as traveller:
        before = billing_usage(organization=owner.organization, month=JUNE)
        traveller.move_to(at(5, month=7))
        linked_account_delete(account=june["billed"], reason="Deleted through the API")
        linked_account_mark_complete(account=june["incomplete"], reason="Linked late")
        traveller.move_to(at(20, month=8))
        after = billing_usage(organization=owner.organization, month=JUNE)
        july = billing_usage(organization=owner.organization, month=date(2026, 7, 1))
    before_rows = {a["linked_account_id"]: a["billable_days"] for a in before["accounts"]}
    after_rows = {a["linked_account_id"]: a["billable_days"] for a in after["accounts"]}
    assert after_rows == before_rows
    assert after["billable_account_days"] == before["billable_account_days"] == 25
    # July: billed 4 days (1st-4th) before its deletion on the 5th; the rest of the month is excluded as deleted.
    july_rows = _by_origin(july)
    assert july_rows["billed"]["billable_days"] == 4
    assert july_rows["billed"]["excluded_days"]["deleted"] == 27
    assert july_rows["billed"]["status"] == "DELETED"
    assert july_rows["billed"]["end_user_organization_name"] == "billed Inc"
    # The late link on the 5th: incomplete for 4 days, billable for 27.
    assert july_rows["unfinished"]["billable_days"] == 27
    assert july_rows["unfinished"]["excluded_days"]["incomplete"] == 4


def test_an_account_deleted_before_the_month_is_not_listed(owner):
    with time_machine.travel(at(2, month=5), tick=False) as traveller:
        account, _ = owner.linked_account(origin_id="gone")
        traveller.move_to(at(10, month=5))
        linked_account_delete(account=account)
        traveller.move_to(at(2, month=7))
        usage = billing_usage(organization=owner.organization, month=JUNE)
        may = billing_usage(organization=owner.organization, month=date(2026, 5, 1))
    assert usage["accounts"] == []
    # In May: created on the 2nd (10:00), billable at the end of days 2..9, deleted on the 10th.
    assert _by_origin(may)["gone"]["billable_days"] == 8


def test_current_month_counts_only_days_that_ended(owner):
    with time_machine.travel(datetime(2026, 6, 1, 0, 0, tzinfo=UTC), tick=False) as traveller:
        owner.linked_account(origin_id="a")
        traveller.move_to(at(7, 15))
        usage = billing_usage(organization=owner.organization, month=JUNE)
    assert usage["billable_account_days"] == 6
    assert usage["days_counted"] == 6
    assert usage["is_final"] is False


def test_other_organizations_history_never_counts(owner, outsider, june):
    with time_machine.travel(at(3, month=7), tick=False):
        usage = billing_usage(organization=outsider.organization, month=JUNE)
    assert usage["accounts"] == []
    assert usage["billable_account_days"] == 0


def test_usage_api_returns_the_contract_fields(owner, june):
    with time_machine.travel(at(3, month=7), tick=False):
        response = owner.client().get("/api/billing/v1/usage", {"month": "2026-06"})
        service = billing_usage(organization=owner.organization, month=JUNE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["average_billable_accounts"] == service["average_billable_accounts"]
    assert body["billable_account_days"] == 25
    accounts = {a["end_user_origin_id"]: a for a in body["accounts"]}
    assert accounts["billed"]["billable_days"] == 25
    assert accounts["billed"]["linked_account_id"] == str(june["billed"].id)


def test_usage_api_with_a_test_key_sees_only_test_accounts_unbilled(owner, june):
    """Finding 3: a test key read the production rows. Each key sees its own environment only."""
    with time_machine.travel(at(3, month=7), tick=False):
        test_view = owner.client(test=True).get("/api/billing/v1/usage", {"month": "2026-06"}).json()
        production = owner.client().get("/api/billing/v1/usage", {"month": "2026-06"}).json()
    assert [a["linked_account_id"] for a in test_view["accounts"]] == [str(june["test"].id)]
    assert test_view["accounts"][0]["billable_days"] == 0
    assert test_view["accounts"][0]["excluded_days"]["test"] == 30
    assert test_view["billable_account_days"] == 0
    assert test_view["average_billable_accounts"] == 0
    assert str(june["test"].id) not in {a["linked_account_id"] for a in production["accounts"]}
    assert {a["account_type"] for a in production["accounts"]} == {"PRODUCTION"}
    assert production["billable_account_days"] == 25


@pytest.mark.parametrize("month", ["2026-6", "June", "2026-13", "2026-00", "2999-01", "2026-06-01"])
def test_usage_api_rejects_a_bad_month(owner, month):
    with time_machine.travel(at(3, month=7), tick=False):
        response = owner.client().get("/api/billing/v1/usage", {"month": month})
    assert response.status_code == 400
    assert "month" in response.json()


def test_usage_api_needs_a_key(owner, db):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/billing/v1/usage", {"month": "2026-06"})
    assert response.status_code == 401
    assert response.json()["header"] == "Authorization"


def test_billing_page_and_csv_show_the_api_numbers(owner, june, operator):
    with time_machine.travel(at(3, month=7), tick=False):
        page = operator.get("/billing", {"month": "2026-06"})
        download = operator.get("/billing.csv", {"month": "2026-06"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="billable-days">25<' in html
    assert 'id="average-billable">0.83<' in html
    assert "Relink needed: <strong>5</strong>" in html
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    header, body = rows[0], rows[1:]
    by_origin = {r[1]: dict(zip(header, r, strict=True)) for r in body if len(r) == len(header)}
    assert by_origin["billed"]["billable_days"] == "25"
    assert by_origin["billed"]["relink_needed_days"] == "5"
    assert by_origin["tester"]["billable_days"] == "0"
    assert ["billable_account_days", "25"] in rows


def test_billing_page_rejects_a_bad_month(operator):
    assert operator.get("/billing", {"month": "2026-13"}).status_code == 400
    assert operator.get("/billing.csv", {"month": "nope"}).status_code == 400


def test_csv_neutralises_formulas(owner, operator):
    with time_machine.travel(at(1, 0), tick=False) as traveller:
        owner.linked_account(origin_id="=HYPERLINK(1)", name="=cmd|' /C calc'!A0", complete=False)
        traveller.move_to(at(3, month=7))
        text = b"".join(operator.get("/billing.csv", {"month": "2026-06"}).streaming_content).decode()
    assert "'=cmd" in text
    assert "\n=cmd" not in text and ",=cmd" not in text


def test_billing_page_of_another_organization_is_404(owner, outsider_operator):
    response = outsider_operator.get("/billing", {"organization": str(owner.organization.pk)})
    assert response.status_code == 404
    response = outsider_operator.get("/billing.csv", {"organization": str(owner.organization.pk)})
    assert response.status_code == 404


def test_february_of_a_leap_year_and_a_relink_needed_period_across_the_month_end(owner):
    """29 days in February 2028; Relink Needed from 20 January, 10:00 to 10 February, 10:00:
    January bills 19 days (1-19; the 20th ends Relink Needed), February bills 20 days (10-29)."""
    with time_machine.travel(datetime(2028, 1, 1, 0, 0, tzinfo=UTC), tick=False) as traveller:
        account, _ = owner.linked_account(origin_id="leap")
        traveller.move_to(datetime(2028, 1, 20, 10, tzinfo=UTC))
        linked_account_mark_relink_needed(account=account, reason="Invalid API key")
        traveller.move_to(datetime(2028, 2, 10, 10, tzinfo=UTC))
        linked_account_mark_complete(account=account, reason="Relinked")
    with time_machine.travel(datetime(2028, 3, 2, tzinfo=UTC), tick=False):
        january = _by_origin(billing_usage(organization=owner.organization, month=date(2028, 1, 1)))["leap"]
        usage = billing_usage(organization=owner.organization, month=date(2028, 2, 1))
    february = _by_origin(usage)["leap"]
    assert (january["billable_days"], january["excluded_days"]["relink_needed"]) == (19, 12)
    assert usage["days_in_month"] == 29
    assert usage["is_final"] is True
    assert (february["billable_days"], february["excluded_days"]["relink_needed"]) == (20, 9)
    assert usage["average_billable_accounts"] == round(20 / 29, 2)
