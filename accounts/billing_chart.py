"""The Linked-accounts status chart: accounts per status at the end of each of the last days,
read backwards from the current counts through the status history (accounts.billing explains
the reading backwards)."""

from datetime import timedelta

from django.db import models
from django.utils import timezone

from .billing import LIVE_STATUSES, _epoch_day, _epoch_day_sql, _org_param, _utc_midnight
from .models import LinkedAccount, Organization


def status_counts_by_day(*, organization: Organization, account_type: str, days: int = 30) -> list[dict]:
    """Accounts per status at the end of each of the last `days` days (today: as it is now).
    Read backwards from the current counts: each change since a day's end is undone (one query
    over the changes of the period, one over the current statuses)."""
    from django.db import connection

    today = timezone.now().date()
    first_day = today - timedelta(days=days - 1)
    lo = _epoch_day(first_day) + 1  # the midnight ending the first day
    params = {
        "org": _org_param(organization),
        "account_type": account_type,
        "start": connection.ops.adapt_datetimefield_value(_utc_midnight(first_day + timedelta(days=1))),
    }
    sql = f"""
        SELECT {_epoch_day_sql("at")} AS day, from_status, to_status, COUNT(*)
        FROM accounts_linkedaccountstatuschange
        WHERE organization_id = %(org)s AND account_type = %(account_type)s AND at >= %(start)s
        GROUP BY 1, 2, 3
    """  # noqa: S608 (built from constants; every value is a parameter)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        changes = cursor.fetchall()
    current = dict.fromkeys(LIVE_STATUSES, 0)
    for row in (
        LinkedAccount.objects.filter(organization=organization, account_type=account_type)
        .order_by()
        .values_list("status")
        .annotate(n=models.Count("id"))
    ):
        current[row[0]] = row[1]
    # undo[k]: per status, what the changes on UTC day number k did to the counts, reversed.
    undo: dict[int, dict[str, int]] = {}
    for day, from_status, to_status, n in changes:
        entry = undo.setdefault(int(day), dict.fromkeys(LIVE_STATUSES, 0))
        if from_status in entry:
            entry[from_status] += n
        if to_status in entry:
            entry[to_status] -= n
    result: list[dict] = [{}] * days
    running = dict(current)
    result[days - 1] = {"day": today, **running}
    pending = sorted(undo, reverse=True)
    for j in range(days - 2, -1, -1):
        midnight = lo + j  # the end of day j
        while pending and pending[0] >= midnight:
            for status, delta in undo[pending.pop(0)].items():
                running[status] += delta
        result[j] = {"day": first_day + timedelta(days=j), **running}
    return result
