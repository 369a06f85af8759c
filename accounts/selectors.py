import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from . import catalog
from .crypto import constant_time_equals, decrypt_json, decrypt_str, token_hash
from .models import ApiKey, LinkedAccount, Membership, Organization


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    digest = token_hash(raw_key)
    key = (
        ApiKey.objects.select_related("organization").filter(key_hash=digest, revoked_at__isnull=True).first()
    )
    if key is None or not constant_time_equals(key.key_hash, digest):
        return None
    return key


def linked_account_for_token(
    *, raw_token: str, organization: Organization, account_type: str
) -> LinkedAccount | None:
    """The account behind an X-Account-Token, only within the key's organization and environment."""
    digest = token_hash(raw_token)
    account = LinkedAccount.objects.filter(
        account_token_hash=digest, organization=organization, account_type=account_type
    ).first()
    if account is None or not constant_time_equals(account.account_token_hash, digest):
        return None
    return account


def linked_account_token(*, account: LinkedAccount) -> str:
    return decrypt_str(account.account_token_encrypted)


def linked_account_credentials(*, account: LinkedAccount) -> dict[str, Any]:
    if not account.credentials_encrypted:
        return {}
    return decrypt_json(account.credentials_encrypted)


def linked_account_find_by_origin(
    *, organization: Organization, account_type: str, category: str, end_user_origin_id: str
) -> LinkedAccount | None:
    return LinkedAccount.objects.filter(
        organization=organization,
        account_type=account_type,
        category=category,
        end_user_origin_id=end_user_origin_id,
    ).first()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def linked_account_details(*, account: LinkedAccount) -> dict[str, Any]:
    """The contract's account-details fields: the API response and every webhook's `linked_account`."""
    info = catalog.get(account.integration)
    return {
        "id": str(account.id),
        "integration": info.name,
        "integration_slug": account.integration,
        "category": account.category,
        "end_user_origin_id": account.end_user_origin_id,
        "end_user_organization_name": account.end_user_organization_name,
        "end_user_email_address": account.end_user_email_address,
        "status": account.status,
        "webhook_listener_url": account.webhook_listener_url,
        "is_duplicate": account.is_duplicate,
        "account_type": account.account_type,
        "completed_at": _iso(account.completed_at),
    }


def linked_accounts_for_environment(
    *, organization: Organization, account_type: str
) -> QuerySet[LinkedAccount]:
    return LinkedAccount.objects.filter(organization=organization, account_type=account_type)


def organizations_for_user(*, user) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).order_by("name")


def user_is_member(*, user, organization_id) -> bool:
    return Membership.objects.filter(user=user, organization_id=organization_id).exists()


# Billing and the status chart, from the status history (the history rows are never edited, so
# a past month always reads the same). A history row's status holds from its `at` until the
# account's next row; the state at the end of a UTC day is that of the row covering the next
# midnight. Each row thus covers the midnights m (counted as epoch days) in [day(at)+1,
# day(next_at)], clipped to the range asked for, and a day is summed in SQL as that span's length.

BILLABLE_STATUSES = ("COMPLETE", "IDLE")
EXCLUSION_REASONS = ("relink_needed", "incomplete", "test", "deleted")


def _epoch_day_sql(column: str) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"FLOOR(EXTRACT(EPOCH FROM {column}) / 86400)::bigint"
    return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"


def _status_spans_sql() -> str:
    """SQL for the spans (uid, account_type, to_status, first_m, last_m) of one organization's
    history rows, clipped to midnights [%(lo)s, %(hi)s]. Rows at or after %(end)s are left out; a
    DELETED row from before %(start)s is left out (the account was gone before the range)."""
    from django.db import connection

    greatest, least = ("GREATEST", "LEAST") if connection.vendor == "postgresql" else ("MAX", "MIN")
    sql = f"""
        WITH h AS (
            SELECT linked_account_uuid AS uid, account_type, to_status, at,
                   LEAD(at) OVER (PARTITION BY linked_account_uuid ORDER BY at, id) AS next_at
            FROM accounts_linkedaccountstatuschange
            WHERE organization_id = %(org)s AND at < %(end)s
        ), s AS (
            SELECT uid, account_type, to_status,
                   {greatest}({_epoch_day_sql("at")} + 1, %(lo)s) AS first_m,
                   {least}(COALESCE({_epoch_day_sql("next_at")}, %(hi)s), %(hi)s) AS last_m
            FROM h
            WHERE (next_at IS NULL OR next_at > %(start)s)
              AND NOT (to_status = 'DELETED' AND at < %(start)s)
        )
    """  # noqa: S608 (constant SQL; every value is a parameter)
    return sql


def _epoch_day(value: date) -> int:
    return (value - date(1970, 1, 1)).days


def _utc_midnight(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _span_params(*, organization: Organization, first_day: date, last_day: date) -> dict[str, Any]:
    """Parameters for days first_day..last_day: their ends are midnights first_day+1..last_day+1."""
    from django.db import connection

    end = _utc_midnight(last_day + timedelta(days=1))
    return {
        "org": organization.pk if connection.vendor == "postgresql" else organization.pk.hex,
        "start": connection.ops.adapt_datetimefield_value(_utc_midnight(first_day)),
        "end": connection.ops.adapt_datetimefield_value(end),
        "lo": _epoch_day(first_day) + 1,
        "hi": _epoch_day(last_day) + 1,
    }


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


def billing_usage(*, organization: Organization, month: date) -> dict[str, Any]:
    """The month's billing: per account, the days it was billable (production and COMPLETE or
    IDLE at the end of the UTC day) and the days excluded, by reason; the organization's
    billable account-days and their average over the days of the month. Days of the current
    month count once they have ended; a future month has none."""
    from django.db import connection

    first_day, last_day = month_bounds(month)
    days_in_month = (last_day - first_day).days + 1
    today = timezone.now().date()
    counted_last = min(last_day, today - timedelta(days=1))
    accounts: list[dict[str, Any]] = []
    totals = dict.fromkeys(EXCLUSION_REASONS, 0)
    billable_total = 0
    if counted_last >= first_day:
        sql = (
            _status_spans_sql()  # noqa: S608
            + """
            SELECT uid,
                   SUM(CASE WHEN account_type = 'PRODUCTION' AND to_status IN ('COMPLETE', 'IDLE')
                            THEN last_m - first_m + 1 ELSE 0 END),
                   SUM(CASE WHEN account_type = 'PRODUCTION' AND to_status = 'RELINK_NEEDED'
                            THEN last_m - first_m + 1 ELSE 0 END),
                   SUM(CASE WHEN account_type = 'PRODUCTION' AND to_status = 'INCOMPLETE'
                            THEN last_m - first_m + 1 ELSE 0 END),
                   SUM(CASE WHEN account_type = 'TEST' AND to_status <> 'DELETED'
                            THEN last_m - first_m + 1 ELSE 0 END),
                   SUM(CASE WHEN to_status = 'DELETED' THEN last_m - first_m + 1 ELSE 0 END),
                   MAX(account_type)
            FROM s
            WHERE last_m >= first_m
            GROUP BY uid
            ORDER BY uid
        """
        )
        params = _span_params(organization=organization, first_day=first_day, last_day=counted_last)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        for uid, billable, relink, incomplete, test, deleted, account_type in rows:
            excluded = {
                "relink_needed": int(relink),
                "incomplete": int(incomplete),
                "test": int(test),
                "deleted": int(deleted),
            }
            for reason, days in excluded.items():
                totals[reason] += days
            billable_total += int(billable)
            accounts.append(
                {
                    "linked_account_id": str(uuid.UUID(str(uid))),
                    "account_type": account_type,
                    "billable_days": int(billable),
                    "excluded_days": excluded,
                }
            )
        _attach_account_names(organization=organization, accounts=accounts)
    return {
        "month": first_day.strftime("%Y-%m"),
        "days_in_month": days_in_month,
        "days_counted": max(0, (counted_last - first_day).days + 1),
        "is_final": counted_last == last_day,
        "billable_account_days": billable_total,
        "average_billable_accounts": round(billable_total / days_in_month, 2),
        "excluded_account_days": totals,
        "accounts": accounts,
    }


def _attach_account_names(*, organization: Organization, accounts: list[dict[str, Any]]) -> None:
    """Who each account is: from the live row, or for a deleted one from its last history row's
    snapshot. Two queries whatever the number of accounts."""
    from .models import LinkedAccountStatusChange

    ids = [a["linked_account_id"] for a in accounts]
    live = {
        str(row["id"]): row
        for row in LinkedAccount.objects.filter(organization=organization, id__in=ids).values(
            "id", "end_user_origin_id", "end_user_organization_name", "integration", "category", "status"
        )
    }
    gone = [i for i in ids if i not in live]
    snapshots = {}
    if gone:
        for change in LinkedAccountStatusChange.objects.filter(
            organization=organization, linked_account_uuid__in=gone, to_status="DELETED"
        ).only("linked_account_uuid", "account_snapshot"):
            snapshots[str(change.linked_account_uuid)] = change.account_snapshot
    for entry in accounts:
        row = live.get(entry["linked_account_id"])
        if row is not None:
            entry.update(
                end_user_origin_id=row["end_user_origin_id"],
                end_user_organization_name=row["end_user_organization_name"],
                integration=row["integration"],
                category=row["category"],
                status=row["status"],
            )
        else:
            snap = snapshots.get(entry["linked_account_id"], {})
            entry.update(
                end_user_origin_id=snap.get("end_user_origin_id", ""),
                end_user_organization_name=snap.get("end_user_organization_name", ""),
                integration=snap.get("integration_slug", ""),
                category=snap.get("category", ""),
                status="DELETED",
            )


def status_counts_by_day(*, organization: Organization, account_type: str, days: int = 30) -> list[dict]:
    """Accounts per status at the end of each of the last `days` days (today: as of now), in SQL:
    each span adds one at its first day and removes one after its last; a running sum follows."""
    from django.db import connection

    today = timezone.now().date()
    first_day = today - timedelta(days=days - 1)
    params = _span_params(organization=organization, first_day=first_day, last_day=today)
    params["account_type"] = account_type
    sql = (
        _status_spans_sql()  # noqa: S608
        + """
        SELECT to_status, first_m, COUNT(*) FROM s
        WHERE last_m >= first_m AND account_type = %(account_type)s AND to_status <> 'DELETED'
        GROUP BY to_status, first_m
        UNION ALL
        SELECT to_status, last_m + 1, -COUNT(*) FROM s
        WHERE last_m >= first_m AND account_type = %(account_type)s AND to_status <> 'DELETED'
        GROUP BY to_status, last_m
    """
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        deltas = cursor.fetchall()
    lo = params["lo"]
    statuses = ("COMPLETE", "IDLE", "RELINK_NEEDED", "INCOMPLETE")
    change = {s: [0] * (days + 1) for s in statuses}
    for status, m, delta in deltas:
        if status in change and 0 <= int(m) - lo <= days:
            change[status][int(m) - lo] += int(delta)
    result = []
    running = dict.fromkeys(statuses, 0)
    for i in range(days):
        for s in statuses:
            running[s] += change[s][i]
        result.append({"day": first_day + timedelta(days=i), **running})
    return result
