"""Billing's fast paths give the numbers of a plain day-by-day reading of the status history, on
random histories: the current month paged by id (accounts.billing_pages), the whole-month
computation (accounts.billing), a closed month's snapshot (accounts.billing_months), through
the usage API (both environments, paged and not), the billing page and its CSV."""

import csv
import io
import random
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from accounts import billing
from accounts.billing_pages import billing_accounts_iter, billing_accounts_page
from accounts.crypto import token_hash
from accounts.models import AccountType, LinkedAccount, LinkedAccountStatusChange
from accounts.services import linked_account_delete, linked_account_mark_relink_needed
from tests.rows import linked_account_row

NOW = datetime(2026, 8, 17, 15, 30, tzinfo=UTC)  # August open (16 days ended), July closed
JULY, AUGUST = date(2026, 7, 1), date(2026, 8, 1)
LIVE = ("COMPLETE", "IDLE", "RELINK_NEEDED", "INCOMPLETE")


def _random_histories(organization, *, seed: int, accounts: int) -> None:
    """Accounts linked between May and now, each with random status changes (some at exact
    midnights, some two in one day), about one in six deleted, one in four a test account."""
    rng = random.Random(seed)
    first = datetime(2026, 5, 1, tzinfo=UTC)
    span = (NOW - first).total_seconds()
    live, changes = [], []
    for n in range(accounts):
        account_type = AccountType.TEST if rng.random() < 0.25 else AccountType.PRODUCTION
        times = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _ in range(rng.randint(1, 9)))
        times = sorted(
            t.replace(hour=0, minute=0, second=0, microsecond=0) if rng.random() < 0.2 else t for t in times
        )
        statuses, previous = [], ""
        for i, _ in enumerate(times):
            choices = ["INCOMPLETE"] if i == 0 else [s for s in LIVE if s != previous]
            statuses.append(rng.choice(choices))
            previous = statuses[-1]
        deleted = rng.random() < 1 / 6
        if deleted:
            times.append(min(NOW, times[-1] + timedelta(days=rng.uniform(0, 40))))
            statuses.append("DELETED")
        account_id = LinkedAccount._meta.pk.default()
        if not deleted:
            live.append(
                linked_account_row(
                    organization,
                    n,
                    prefix="origin",
                    id=account_id,
                    account_type=account_type,
                    status=statuses[-1],
                    account_token_hash=token_hash(f"fast-{seed}-{n}"),
                )
            )
        snapshot = {"end_user_origin_id": f"origin-{n}", "end_user_organization_name": f"origin {n}"}
        snapshot |= {"integration_slug": "sandbox", "category": "hris"}
        from_status = ""
        for at, to_status in zip(times, statuses, strict=True):
            changes.append(
                LinkedAccountStatusChange(
                    organization=organization,
                    linked_account_uuid=account_id,
                    account_type=account_type,
                    from_status=from_status,
                    to_status=to_status,
                    at=at,
                    account_snapshot=snapshot,
                    processed_at=at,
                )
            )
            from_status = to_status
    LinkedAccount.objects.bulk_create(live)
    LinkedAccountStatusChange.objects.bulk_create(changes)


def _reference(organization, *, month: date, account_type: str | None) -> dict:
    """Day by day: an account's state at a midnight is its last history row's before it. The
    days after an account's deletion count as deleted days in the month it was deleted."""
    first_day, last_day = billing.month_bounds(month)
    days = min(last_day, NOW.date() - timedelta(days=1)).day - first_day.day + 1
    midnights = [
        datetime.combine(first_day + timedelta(days=d + 1), datetime.min.time(), UTC) for d in range(days)
    ]
    month_start = datetime.combine(first_day, datetime.min.time(), UTC)
    history: dict = {}
    for change in LinkedAccountStatusChange.objects.filter(organization=organization).order_by("at", "id"):
        history.setdefault(str(change.linked_account_uuid), []).append(change)
    now = {str(a.id): a.status for a in LinkedAccount.objects.filter(organization=organization)}
    accounts, totals = {}, [0] * 5
    for uid, changes in history.items():
        kind = changes[0].account_type
        if account_type not in (None, kind):
            continue
        counts = [0] * 5  # billable, relink_needed, incomplete, test, deleted
        for midnight in midnights:
            state = next((c.to_status for c in reversed(changes) if c.at < midnight), "")
            production = kind == AccountType.PRODUCTION
            counts[0] += production and state in billing.BILLABLE_STATUSES
            counts[1] += production and state == "RELINK_NEEDED"
            counts[2] += production and state == "INCOMPLETE"
            counts[3] += not production and state in LIVE
            # Deleted days: from a deletion in the month on (one deleted before is not listed).
            counts[4] += state == "DELETED" and changes[-1].at >= month_start
        if any(counts):
            accounts[uid] = (now.get(uid, "DELETED"), *counts)
            totals = [t + c for t, c in zip(totals, counts, strict=True)]
    return {"accounts": accounts, "totals": totals}


def _of(entries) -> dict:
    return {
        a["linked_account_id"]: (
            a["status"],
            a["billable_days"],
            *(a["excluded_days"][r] for r in billing.EXCLUSION_REASONS),
        )
        for a in entries
    }


def _totals(body: dict) -> list[int]:
    return [
        body["billable_account_days"],
        *(body["excluded_account_days"][r] for r in billing.EXCLUSION_REASONS),
    ]


def _api_pages(owner, *, month: date, test: bool, page_size: int | None) -> tuple[dict, list[dict]]:
    params = {"month": f"{month:%Y-%m}"} | ({"page_size": page_size} if page_size else {})
    bodies = []
    while True:
        response = owner.client(test=test).get("/api/billing/v1/usage", params)
        assert response.status_code == 200, response.content
        bodies.append(response.json())
        if not bodies[-1]["next"]:
            break
        params["cursor"] = bodies[-1]["next"]
    entries = [a for body in bodies for a in body["accounts"]]
    assert len({a["linked_account_id"] for a in entries}) == len(entries)  # no account twice
    if page_size:
        assert all(len(body["accounts"]) <= page_size for body in bodies)
        ids = [a["linked_account_id"] for a in entries]
        assert ids == sorted(ids, key=lambda i: int(i.replace("-", ""), 16))
    assert all(_totals(body) == _totals(bodies[0]) for body in bodies)  # the totals on every page
    return bodies[0], entries


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_path_bills_what_the_history_says_day_by_day(owner, operator, seed):
    _random_histories(owner.organization, seed=seed, accounts=60)
    with time_machine.travel(NOW, tick=False):
        for month in (AUGUST, JULY):  # July is stored by its first read, after August's
            for test in (False, True):
                expected = _reference(
                    owner.organization,
                    month=month,
                    account_type=AccountType.TEST if test else AccountType.PRODUCTION,
                )
                for page_size in (None, 7, 1000):
                    first, entries = _api_pages(owner, month=month, test=test, page_size=page_size)
                    assert _of(entries) == expected["accounts"], (month, test, page_size)
                    assert _totals(first) == expected["totals"]
            both = _reference(owner.organization, month=month, account_type=None)
            assert (
                _of(billing_accounts_iter(organization=owner.organization, month=month)) == both["accounts"]
            )
            full = billing.billing_usage(organization=owner.organization, month=month)
            assert _of(full["accounts"]) == both["accounts"] and _totals(full) == both["totals"]
            summary = billing.billing_summary(organization=owner.organization, month=month)
            assert _totals(summary) == both["totals"]
            # The page's table, page by page, and the CSV: the same accounts.
            seen, url = {}, f"/billing?month={month:%Y-%m}"
            while url:
                html = operator.get(url).content.decode()
                seen |= {uid: None for uid in _data_accounts(html)}
                url = _next_url(html, month)
            assert set(seen) == set(both["accounts"])
            text = b"".join(
                operator.get("/billing.csv", {"month": f"{month:%Y-%m}"}).streaming_content
            ).decode()
            rows = [r for r in csv.reader(io.StringIO(text)) if len(r) == 11][1:]
            assert {r[0]: (r[5], *map(int, r[6:])) for r in rows} == both["accounts"]


def _data_accounts(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('data-account="')[1:]]


def _next_url(html: str, month: date) -> str | None:
    if 'rel="next"' not in html:
        return None
    href = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"', 1)[0]
    return "/billing" + href.replace("&amp;", "&")


def test_a_page_never_leaves_out_an_account_deleted_this_month(owner):
    """Deleted accounts have no live row: they come from their DELETED history row, in id order
    among the live ones."""
    _random_histories(owner.organization, seed=7, accounts=40)
    with time_machine.travel(NOW, tick=False):
        expected = _reference(owner.organization, month=AUGUST, account_type=None)["accounts"]
        gone = {uid for uid, row in expected.items() if row[0] == "DELETED"}
        assert gone, "the seed deletes some accounts this month"
        seen, after = [], None
        while True:
            accounts, after = billing_accounts_page(
                organization=owner.organization, month=AUGUST, size=3, after=after
            )
            seen += [a["linked_account_id"] for a in accounts]
            if after is None:
                break
    assert set(seen) == set(expected) and gone <= set(seen)
    deleted = [
        a
        for a in billing_accounts_iter(organization=owner.organization, month=AUGUST)
        if a["status"] == "DELETED"
    ]
    assert all(
        a["end_user_origin_id"].startswith("origin-") for a in deleted
    )  # from the DELETED row's snapshot


def test_the_current_months_totals_kept_for_the_day_stay_right_after_changes_today(owner):
    """The totals are kept until the next day ends: a change today moves the current status and
    undoes itself in the same sum, so the kept totals are still the fresh ones."""
    _random_histories(owner.organization, seed=11, accounts=30)
    with time_machine.travel(NOW, tick=False) as traveller:
        before, _ = _api_pages(owner, month=AUGUST, test=False, page_size=5)
        traveller.move_to(NOW + timedelta(hours=2))
        live = LinkedAccount.objects.filter(
            organization=owner.organization, account_type=AccountType.PRODUCTION
        )
        for account in live.filter(status__in=billing.BILLABLE_STATUSES)[:3]:
            linked_account_mark_relink_needed(account=account, reason="Invalid API key")
        linked_account_delete(account=live.first())
        owner.linked_account(origin_id="linked-today")
        kept, entries = _api_pages(owner, month=AUGUST, test=False, page_size=5)
        fresh = billing.billing_summary(
            organization=owner.organization, month=AUGUST, account_type=AccountType.PRODUCTION
        )
    assert _totals(kept) == _totals(before) == _totals(fresh)
    assert sum(a["billable_days"] for a in entries) == kept["billable_account_days"]
