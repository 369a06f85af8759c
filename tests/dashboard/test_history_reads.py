"""Billing and the home chart read the status history backwards from today; check both against a
plain forward reading of the same history (the state at a midnight is that of the last row
before it) on random histories, including changes exactly at midnight."""

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import time_machine

from accounts.billing import billing_summary, billing_usage, month_bounds
from accounts.billing_chart import status_counts_by_day
from accounts.models import AccountType, LinkedAccount, LinkedAccountStatusChange
from accounts.services import (
    linked_account_delete,
    linked_account_mark_complete,
    linked_account_mark_idle,
    linked_account_mark_relink_needed,
)

BILLABLE = {"COMPLETE", "IDLE"}


def state_at(rows, moment):
    before = [r for r in rows if r.at < moment]
    return before[-1].to_status if before else None


def reference_month(organization, month):
    first, last = month_bounds(month)
    rows_by_account = defaultdict(list)
    for row in LinkedAccountStatusChange.objects.filter(organization=organization).order_by("at", "id"):
        rows_by_account[str(row.linked_account_uuid)].append(row)
    result = {}
    for account_id, rows in rows_by_account.items():
        counts = defaultdict(int)
        day = first
        while day <= last:
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
            state = state_at(rows, midnight)
            kind = rows[0].account_type
            if state is None:
                pass
            elif state == "DELETED":
                if rows[-1].at >= datetime(first.year, first.month, 1, tzinfo=UTC):
                    counts["deleted"] += 1
            elif kind == AccountType.TEST:
                counts["test"] += 1
            elif state in BILLABLE:
                counts["billable"] += 1
            elif state == "RELINK_NEEDED":
                counts["relink_needed"] += 1
            elif state == "INCOMPLETE":
                counts["incomplete"] += 1
            day += timedelta(days=1)
        if any(counts.values()):
            result[account_id] = dict(counts)
    return result


def random_history(owner, rng):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    accounts = []
    with time_machine.travel(start, tick=False) as traveller:
        moment = start
        for i in range(6):
            kind = AccountType.TEST if i == 5 else AccountType.PRODUCTION
            account, _ = owner.linked_account(origin_id=f"r{i}", account_type=kind, complete=i != 4)
            accounts.append(account)
        alive = list(accounts)
        for _ in range(40):
            # Half of the changes land exactly on a midnight.
            step = timedelta(days=rng.randint(0, 4), hours=rng.choice([0, 0, 7, 23]))
            moment = moment + step
            traveller.move_to(moment)
            if not alive:
                break
            account = rng.choice(alive)
            account = LinkedAccount.objects.get(pk=account.pk)
            action = rng.random()
            if action < 0.04:
                linked_account_delete(account=account)
                alive = [a for a in alive if a.pk != account.pk]
            elif account.status in ("COMPLETE", "IDLE") and action < 0.5:
                linked_account_mark_relink_needed(account=account, reason="random")
            elif account.status == "COMPLETE" and action < 0.7:
                linked_account_mark_idle(account=account, reason="random")
            elif account.status != "COMPLETE":
                linked_account_mark_complete(account=account, reason="random")
    return moment


def test_billing_matches_a_forward_reading_of_the_history(owner):
    for seed in range(3):
        LinkedAccount.objects.filter(organization=owner.organization).delete()
        LinkedAccountStatusChange.objects.filter(organization=owner.organization).delete()
        rng = random.Random(seed)
        end = random_history(owner, rng)
        with time_machine.travel(end + timedelta(days=40), tick=False):
            for month in (date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)):
                usage = billing_usage(organization=owner.organization, month=month)
                got = {
                    a["linked_account_id"]: {
                        k: v for k, v in {"billable": a["billable_days"], **a["excluded_days"]}.items() if v
                    }
                    for a in usage["accounts"]
                }
                assert got == reference_month(owner.organization, month), (seed, month)
                # billing_summary (its own query, from the counts per status) agrees.
                summary = billing_summary(organization=owner.organization, month=month)
                assert summary["billable_account_days"] == sum(a["billable_days"] for a in usage["accounts"])
                for reason, total in summary["excluded_account_days"].items():
                    assert total == sum(a["excluded_days"][reason] for a in usage["accounts"]), reason
                assert {k: v for k, v in usage.items() if k != "accounts"} == summary


def test_home_chart_matches_a_forward_reading_of_the_history(owner):
    rng = random.Random(7)
    end = random_history(owner, rng)
    now = end + timedelta(hours=5)
    with time_machine.travel(now, tick=False):
        days = status_counts_by_day(
            organization=owner.organization, account_type=AccountType.PRODUCTION, days=30
        )
    rows_by_account = defaultdict(list)
    for row in LinkedAccountStatusChange.objects.filter(
        organization=owner.organization, account_type=AccountType.PRODUCTION
    ).order_by("at", "id"):
        rows_by_account[row.linked_account_uuid].append(row)
    for i, entry in enumerate(days):
        moment = (
            now + timedelta(seconds=1)
            if i == len(days) - 1
            else datetime(entry["day"].year, entry["day"].month, entry["day"].day, tzinfo=UTC)
            + timedelta(days=1)
        )
        expected = defaultdict(int)
        for rows in rows_by_account.values():
            state = state_at(rows, moment)
            if state and state != "DELETED":
                expected[state] += 1
        assert {s: entry[s] for s in ("COMPLETE", "IDLE", "RELINK_NEEDED", "INCOMPLETE")} == {
            s: expected[s] for s in ("COMPLETE", "IDLE", "RELINK_NEEDED", "INCOMPLETE")
        }, entry["day"]
