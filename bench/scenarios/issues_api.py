"""GET /issues over 1,000,000 issues: 50,000 linked accounts (45,000 in one large organization,
the rest over 9 others), 20 issues each, four ONGOING per account and the rest RESOLVED, 2 %
muted. First page and a page 500 pages deep, with the default filter (muted left out) and with
status=ONGOING; GET /issues/{id}."""

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test import Client

from accounts.crypto import encrypt_str, token_hash
from accounts.ids import uuid7
from accounts.paging import encode_cursor as _encode_cursor
from accounts.services import organization_create
from bench.harness import bulk_copy, copy_linked_accounts, linked_account_row
from issues.models import ErrorDescription, Issue

ACCOUNTS = 50_000
BIG_ORG_ACCOUNTS = 45_000
PER_ACCOUNT = 20
TOTAL = ACCOUNTS * PER_ACCOUNT
START = datetime(2026, 1, 1, tzinfo=UTC)
DESCRIPTIONS = [d.value for d in ErrorDescription]


def _seed():
    orgs = [organization_create(name=f"Bench issues org {i}") for i in range(10)]
    encrypted = encrypt_str("bench-token")  # one ciphertext for every row: seeding speed only
    accounts = []  # (id, organization id)

    def account_rows():
        for n in range(ACCOUNTS):
            org = orgs[0][0] if n < BIG_ORG_ACCOUNTS else orgs[1 + n % 9][0]
            account_id = str(uuid7())
            accounts.append((account_id, str(org.id)))
            created = (START + timedelta(seconds=n)).isoformat()
            yield linked_account_row(
                n=n,
                account_id=account_id,
                organization_id=org.id,
                origin_id=f"issues-origin-{n}",
                name=f"Customer {n % 5000}",
                status="RELINK_NEEDED",
                created=created,
                token_hash=token_hash(f"bench-issues-token-{n}"),
                token_encrypted=encrypted,
            )

    copy_linked_accounts(
        account_rows(),
    )

    def issue_rows():
        base = START + timedelta(days=1)
        for n in range(TOTAL):
            account_id, org_id = accounts[n % ACCOUNTS]
            round_ = n // ACCOUNTS  # 0..19: the first four rounds are the ONGOING ones
            at = (base + timedelta(seconds=n)).isoformat()
            ongoing = round_ < 4
            yield (
                str(uuid7()),
                org_id,
                account_id,
                "PRODUCTION",
                DESCRIPTIONS[round_ % 4],
                "ONGOING" if ongoing else "RESOLVED",
                at,
                at,
                1,
                '["HTTP 401 from the provider"]',
                n % 50 == 0,
                None,
                "",
                None if ongoing else at,
                "" if ongoing else "Sync succeeded",
                0,
                at,
            )

    bulk_copy(
        "issues_issue",
        [
            "id",
            "organization_id",
            "linked_account_id",
            "account_type",
            "error_description",
            "status",
            "first_incident_time",
            "last_incident_time",
            "occurrences",
            "error_details",
            "is_muted",
            "muted_at",
            "muted_by",
            "resolved_at",
            "resolution_reason",
            "reopened_count",
            "created_at",
        ],
        issue_rows(),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_linkedaccount")
        cursor.execute("ANALYZE issues_issue")
    return orgs


def _deep_cursor(qs, depth: int) -> str:
    position = qs.order_by("-created_at", "-id").values_list("created_at", "id")[depth - 1]
    return _encode_cursor("n", position)


def run(report):
    orgs = _seed()
    big_org, big_key, _ = orgs[0]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {big_key}")
    size = f"{TOTAL // 1_000_000}M issues ({BIG_ORG_ACCOUNTS * PER_ACCOUNT // 1000}k in the org)"

    def page(url: str):
        def call():
            response = client.get(url)
            assert response.status_code == 200, response.content
            assert len(response.json()["results"]) == 100

        return call

    base = Issue.objects.filter(organization=big_org, account_type="PRODUCTION")
    deep_default = _deep_cursor(base.filter(is_muted=False), 500 * 100)
    deep_ongoing = _deep_cursor(base.filter(is_muted=False, status="ONGOING"), 500 * 100)
    cases = [
        ("GET /issues, first page", "/api/hris/v1/issues"),
        ("GET /issues, page 501", f"/api/hris/v1/issues?cursor={deep_default}"),
        ("GET /issues?status=ONGOING, first page", "/api/hris/v1/issues?status=ONGOING"),
        ("GET /issues?status=ONGOING, page 501", f"/api/hris/v1/issues?status=ONGOING&cursor={deep_ongoing}"),
        ("GET /issues?include_muted=true, first page", "/api/hris/v1/issues?include_muted=true"),
    ]
    for name, url in cases:
        report.latency(name, size=size, fn=page(url), n=300, p99_max_ms=40)

    one = base.order_by("created_at").values_list("id", flat=True)[12345]

    def detail():
        response = client.get(f"/api/hris/v1/issues/{one}")
        assert response.status_code == 200

    report.latency("GET /issues/{id}", size=size, fn=detail, n=300, p99_max_ms=15)
