"""100,000 linked accounts over 100 organizations; one large organization holds 60,000 of
them (52,000 RELINK_NEEDED) so that a page 500 pages deep exists."""

import uuid
from datetime import UTC, datetime, timedelta

from django.test import Client

from accounts.crypto import encrypt_str, token_hash
from accounts.models import LinkedAccount
from accounts.paging import encode_cursor as _encode_cursor
from accounts.services import organization_create
from bench.harness import copy_linked_accounts, linked_account_row

TOTAL = 100_000
START = datetime(2026, 1, 1, tzinfo=UTC)
BIG_ORG = 60_000
BIG_RELINK = 52_000


def _seed():
    orgs = [organization_create(name=f"Bench org {i}") for i in range(100)]
    encrypted = encrypt_str("bench-token")  # same ciphertext for all rows: seeding speed only
    tokens = {}

    def rows():
        for n in range(TOTAL):
            big = n < BIG_ORG
            org = orgs[0][0] if big else orgs[1 + n % 99][0]
            if big:
                status = "RELINK_NEEDED" if n < BIG_RELINK else "COMPLETE"
            else:
                status = ("COMPLETE", "COMPLETE", "IDLE", "RELINK_NEEDED", "INCOMPLETE")[n % 5]
            raw = f"bench-token-{n}"
            created = (START + timedelta(seconds=n)).isoformat()
            if n in (0, TOTAL - 1):
                tokens[n] = raw
            yield linked_account_row(
                n=n,
                organization_id=org.id,
                origin_id=f"origin-{n}",
                status=status,
                created=created,
                token_hash=token_hash(raw),
                token_encrypted=encrypted,
            )

    copy_linked_accounts(
        rows(),
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_linkedaccount")
    return orgs, tokens


def run(report):
    orgs, tokens = _seed()
    big_org, big_key, _ = orgs[0]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {big_key}")
    details_client = Client(HTTP_AUTHORIZATION=f"Bearer {big_key}", HTTP_X_ACCOUNT_TOKEN=tokens[0])

    def details():
        response = details_client.get("/api/hris/v1/account-details")
        assert response.status_code == 200, response.content

    report.latency(
        "GET /account-details",
        size="100k accounts",
        fn=details,
        n=500,
        p99_max_ms=15,
    )

    def first_page():
        response = client.get("/api/hris/v1/linked-accounts?status=RELINK_NEEDED")
        assert response.status_code == 200 and len(response.json()["results"]) == 100

    first = report.latency(
        "GET /linked-accounts?status=RELINK_NEEDED, first page",
        size="100k (52k match)",
        fn=first_page,
        n=300,
        p99_max_ms=40,
    )

    position = (
        LinkedAccount.objects.filter(organization=big_org, account_type="PRODUCTION", status="RELINK_NEEDED")
        .order_by("-created_at", "-id")
        .values_list("created_at", "id")[500 * 100 - 1]
    )
    assert isinstance(position[1], uuid.UUID)
    deep_url = f"/api/hris/v1/linked-accounts?status=RELINK_NEEDED&cursor={_encode_cursor('n', position)}"

    def deep_page():
        response = client.get(deep_url)
        assert response.status_code == 200 and len(response.json()["results"]) == 100

    report.latency(
        "GET /linked-accounts?status=RELINK_NEEDED, page 501",
        size="100k (52k match)",
        fn=deep_page,
        n=300,
        target="p99 <= 40 ms and <= 1.5x first page",
        ok=lambda r: r.p99_ms <= 40 and r.median_ms <= first.median_ms * 1.5,
    )
