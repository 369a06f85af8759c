"""A failure's issue in one PostgreSQL statement: update the ONGOING issue of (account, error
description) (a repeat), else reopen the latest RESOLVED one, else insert a new one. The rule is
`issue_record_failure`'s (issues/services.py), which calls this on PostgreSQL and does the same
with the ORM elsewhere; the caller holds the account's row lock, so no other writer races it.

Hand-written SQL because the ORM cannot say "update this, else that, else insert" in one round
trip: each step is a data-modifying CTE that runs only when the ones before it found nothing."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from accounts.ids import uuid7
from accounts.models import LinkedAccount

from .models import Issue

# The appended detail, then the newest `limit` of them (ISSUE_ERROR_DETAILS_MAX).
_APPEND_DETAIL = """(
    SELECT COALESCE(jsonb_agg(e ORDER BY n), '[]'::jsonb)
      FROM jsonb_array_elements(i.error_details || jsonb_build_array(%(detail)s::text)) WITH ORDINALITY AS t(e, n)
     WHERE n > jsonb_array_length(i.error_details) + 1 - %(limit)s
)"""

_UPSERT_SQL = f"""
WITH repeat AS (
    UPDATE issues_issue AS i
       SET last_incident_time = %(now)s, occurrences = i.occurrences + 1, error_details = {_APPEND_DETAIL}
     WHERE i.linked_account_id = %(account)s AND i.error_description = %(description)s AND i.status = 'ONGOING'
    RETURNING i.*
), latest_resolved AS (
    SELECT id FROM issues_issue
     WHERE linked_account_id = %(account)s AND error_description = %(description)s AND status = 'RESOLVED'
     ORDER BY id DESC
     LIMIT 1
), reopened AS (
    UPDATE issues_issue AS i
       SET status = 'ONGOING', last_incident_time = %(now)s, occurrences = i.occurrences + 1,
           error_details = {_APPEND_DETAIL}, resolved_at = NULL, resolution_reason = '',
           reopened_count = i.reopened_count + 1
      FROM latest_resolved AS r
     WHERE i.id = r.id AND NOT EXISTS (SELECT 1 FROM repeat)
    RETURNING i.*
), created AS (
    INSERT INTO issues_issue (
        id, organization_id, linked_account_id, account_type, error_description, status,
        first_incident_time, last_incident_time, occurrences, error_details, is_muted, muted_by,
        resolution_reason, reopened_count, created_at
    )
    SELECT %(id)s, %(organization)s, %(account)s, %(account_type)s, %(description)s, 'ONGOING',
           %(now)s, %(now)s, 1, jsonb_build_array(%(detail)s::text), false, '', '', 0, %(now)s
     WHERE NOT EXISTS (SELECT 1 FROM repeat) AND NOT EXISTS (SELECT 1 FROM latest_resolved)
    RETURNING *
)
SELECT *, 'repeat' AS outcome FROM repeat
UNION ALL SELECT *, 'reopened' FROM reopened
UNION ALL SELECT *, 'new' FROM created
"""  # noqa: S608 - no value is formatted in: _APPEND_DETAIL is a constant


def issue_failure_upsert(
    *, account: LinkedAccount, error_description: str, detail: str, now: datetime
) -> tuple[Issue, str]:
    """The issue after this failure and what happened to it: "new", "reopened" or "repeat".
    `detail` is already cut to its stored length; the account's row is locked by the caller."""
    rows = list(
        Issue.objects.raw(
            _UPSERT_SQL,
            {
                "id": uuid7(),
                "organization": account.organization_id,
                "account": account.pk,
                "account_type": account.account_type,
                "description": error_description,
                "detail": detail,
                "limit": max(1, settings.ISSUE_ERROR_DETAILS_MAX),
                "now": now,
            },
        )
    )
    issue = rows[0]
    issue.linked_account = account
    return issue, issue.outcome
