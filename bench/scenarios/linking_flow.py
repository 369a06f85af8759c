"""The link flow: link-token creation (with the relink lookup among 20,000 accounts), the link
page, finishing links and relinks through the sandbox endpoint (each one real HTTP request to the
sandbox provider on a socket), concurrent finishes, and the public-token exchange."""

import threading
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connections
from django.test import Client

from accounts.crypto import encrypt_json, encrypt_str, token_hash
from accounts.ids import uuid7
from accounts.models import LinkedAccount
from accounts.services import organization_create
from bench.harness import copy_linked_accounts, percentile, plain_static_files
from syncs.sandbox_provider import serve_in_thread

EXISTING = 20_000
START = datetime(2026, 1, 1, tzinfo=UTC)


def _seed(organization) -> None:
    token = encrypt_str("bench-token")
    credentials = encrypt_json({"api_key": "sk_sandbox_bench"})

    def rows():
        for n in range(EXISTING):
            created = (START + timedelta(seconds=n)).isoformat()
            yield (
                str(uuid7()),
                str(organization.id),
                "hris",
                "sandbox",
                f"existing-{n}",
                f"Customer {n}",
                f"c{n}@example.com",
                "TEST",
                "RELINK_NEEDED" if n % 10 == 0 else "COMPLETE",
                "",
                None,
                created,
                created,
                created,
                token_hash(f"bench-link-account-{n}"),
                token,
                credentials,
                "",
                None,
                None,
            )

    copy_linked_accounts(
        rows(),
    )
    with connections["default"].cursor() as cursor:
        cursor.execute("ANALYZE accounts_linkedaccount")


def _body(origin_id: str) -> dict:
    return {
        "end_user_email_address": f"{origin_id}@example.com",
        "end_user_organization_name": origin_id,
        "end_user_origin_id": origin_id,
        "categories": ["hris"],
        "integration": "sandbox",
    }


def run(report):
    with plain_static_files():
        _run(report)


def _run(report):
    organization, _, test_key = organization_create(name="Bench linking")
    _seed(organization)
    sandbox = serve_in_thread(control_token=settings.SANDBOX_CONTROL_TOKEN)
    previous_url = settings.SANDBOX_PROVIDER_URL
    settings.SANDBOX_PROVIDER_URL = sandbox.url
    api = Client(HTTP_AUTHORIZATION=f"Bearer {test_key}")
    counter = iter(range(10**9))

    def new_link_token(origin_id: str | None = None) -> str:
        origin_id = origin_id or f"new-{next(counter)}"
        response = api.post("/api/hris/v1/link-token", _body(origin_id), content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()["link_token"]

    def finish(link_token: str, client: Client = api) -> str:
        response = client.post(
            "/api/sandbox/v1/public-token",
            {"link_token": link_token, "integration": "sandbox", "credentials": {"api_key": "sk_sandbox_b"}},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        return response.json()["public_token"]

    try:
        relink_origins = iter(f"existing-{n}" for n in range(0, EXISTING, 7))
        report.latency(
            "linking: POST /link-token (new end user)",
            size=f"{EXISTING:,} accounts",
            fn=new_link_token,
            p99_max_ms=100,
        )
        report.latency(
            "linking: POST /link-token (relink lookup)",
            size=f"{EXISTING:,} accounts",
            fn=lambda: new_link_token(next(relink_origins)),
            p99_max_ms=100,
        )
        page = Client()
        tokens = iter([new_link_token() for _ in range(220)])
        report.latency(
            "linking: GET /link/<token> page",
            size="1 integration",
            fn=lambda: page.get(f"/link/{next(tokens)}"),
            p99_max_ms=100,
        )

        def finishes(scenario: str, link_tokens: list[str], note: str) -> None:
            """A row of finishes through the sandbox endpoint, one link token each."""
            tokens = iter(link_tokens)
            report.latency(
                scenario,
                size="1 provider call",
                fn=lambda: finish(next(tokens)),
                p99_max_ms=250,
                note=note,
            )

        finishes(
            "linking: finish a new link (sandbox endpoint)",
            [new_link_token() for _ in range(220)],
            "validate on a socket, create, complete, queue sync, public token",
        )
        finishes(
            "linking: finish a relink (sandbox endpoint)",
            [new_link_token(next(relink_origins)) for _ in range(220)],
            "same account, issues resolved, COMPLETE, sync queued",
        )
        public = iter([finish(new_link_token()) for _ in range(220)])
        report.latency(
            "linking: GET /account-token/<public token>",
            size="single use",
            fn=lambda: api.get(f"/api/hris/v1/account-token/{next(public)}"),
            p99_max_ms=50,
        )

        def in_threads(fn, items) -> float:
            """fn(item, client) in a thread per item, each with its own client and database
            connection; the seconds until the last one is done."""

            def target(item):
                client = Client(HTTP_AUTHORIZATION=f"Bearer {test_key}")
                try:
                    fn(item, client)
                finally:
                    connections.close_all()

            started = time.perf_counter()
            running = [threading.Thread(target=target, args=(item,)) for item in items]
            for thread in running:
                thread.start()
            for thread in running:
                thread.join()
            return time.perf_counter() - started

        # Concurrent finishes: 8 threads (own connections), distinct end users.
        threads, per_thread = 8, 25
        batches = [[new_link_token() for _ in range(per_thread)] for _ in range(threads)]
        samples: list[float] = []
        lock = threading.Lock()

        def work(batch, client):
            for link_token in batch:
                t0 = time.perf_counter()
                finish(link_token, client)
                with lock:
                    samples.append((time.perf_counter() - t0) * 1000)

        elapsed = in_threads(work, batches)
        report.throughput(
            "linking: concurrent finishes (8 threads)",
            size=f"{threads * per_thread} links",
            count=threads * per_thread,
            seconds=elapsed,
            median_ms=sorted(samples)[len(samples) // 2],
            p99_ms=percentile(samples, 99),
            target=">= 30 /s",
            ok=lambda r: (r.per_second or 0) >= 30,
        )

        # 20 simultaneous finishes for one origin id: exactly one account (correctness under load).
        racing = [new_link_token("race-origin") for _ in range(20)]
        barrier = threading.Barrier(20)

        def race(link_token, client):
            barrier.wait()
            finish(link_token, client)

        elapsed = in_threads(race, racing)
        accounts = LinkedAccount.objects.filter(
            organization=organization, end_user_origin_id="race-origin"
        ).count()
        report.throughput(
            "linking: 20 racing finishes, one origin id",
            size="20 links",
            count=20,
            seconds=elapsed,
            target="exactly 1 account",
            ok=lambda r: accounts == 1,
            note=f"{accounts} account(s)",
        )
    finally:
        settings.SANDBOX_PROVIDER_URL = previous_url
        sandbox.stop()
        # Forget the bench accounts: the sync messages they queued become no-ops.
        LinkedAccount.objects.filter(organization=organization).delete()
