"""Faulty providers: every fault ends the run FAILED with its error class, in bounded time, and
never replaces the last good data."""

import itertools
import time

import httpx
import pytest
import respx

from accounts.models import LinkedAccount
from issues.models import Issue
from syncs import runs
from syncs.integrations.base import redact_url
from syncs.models import Employee, RequestLog


def _sync(account, trigger="schedule"):
    return runs.sync_run_account(account_id=str(account.pk), trigger=trigger)


def _snapshot(account):
    return sorted(
        Employee.objects.filter(linked_account=account).values_list(
            "remote_id", "first_name", "modified_at", "remote_was_deleted"
        )
    )


@pytest.fixture
def good_account(owner, sandbox_provider, settings):
    settings.SYNC_HTTP_TIMEOUT_SECONDS = 1.0
    settings.SYNC_MAX_RESPONSE_BYTES = 2 * 1024 * 1024
    account, _ = owner.linked_account(origin_id="fault-1")
    assert _sync(account).status == "DONE"
    return account


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "error_class", "issue"),
    [
        ("malformed_json", "bad_response", None),
        ("html_login", "bad_response", None),
        ("redirect_loop", "bad_response", None),
        ("huge_body", "bad_response", None),
        ("timeout", "provider_offline", "Third-party offline"),
        ("http_500", "provider_offline", "Third-party offline"),
        ("http_429", "rate_limited", "Rate limited"),
        ("http_403", "missing_permissions", "Missing permissions"),
    ],
)
def test_fault_fails_the_run_and_keeps_good_data(good_account, sandbox_provider, mode, error_class, issue):
    before = _snapshot(good_account)
    sandbox_provider.state.global_outage = mode
    started = time.monotonic()
    run = _sync(good_account)
    elapsed = time.monotonic() - started
    assert run.status == "FAILED" and run.error_class == error_class, run.error_message
    assert elapsed < 10, f"{mode} took {elapsed:.1f}s"
    assert _snapshot(good_account) == before
    logs = list(RequestLog.objects.filter(sync_run=run))
    assert logs and all(log.error_class for log in logs)
    # Every request failed: the account needs attention.
    assert LinkedAccount.objects.get(pk=good_account.pk).status == "RELINK_NEEDED"
    issues = list(Issue.objects.filter(linked_account=good_account, status="ONGOING"))
    assert [i.error_description for i in issues] == ([issue] if issue else [])


@pytest.mark.django_db
def test_rate_limit_is_retried_honouring_retry_after(good_account, sandbox_provider, settings):
    settings.SYNC_RATE_LIMIT_RETRIES = 2
    settings.SYNC_RATE_LIMIT_MAX_WAIT_SECONDS = 10
    sandbox_provider.state.retry_after_seconds = 2  # more than the 1 s used without the header
    sandbox_provider.state.global_outage = "http_429"
    run = _sync(good_account)
    assert run.requests_total == 3 and run.error_class == "rate_limited"
    started = list(
        RequestLog.objects.filter(sync_run=run).order_by("created_at").values_list("created_at", flat=True)
    )
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(started)]
    assert len(gaps) == 2 and all(gap >= 2 for gap in gaps), gaps  # each retry waited as told


@pytest.mark.django_db
def test_refused_connection_is_provider_offline(good_account, settings):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.SANDBOX_PROVIDER_URL = f"http://127.0.0.1:{port}"
    run = _sync(good_account)
    assert run.error_class == "provider_offline"


@pytest.mark.django_db
def test_failure_midway_writes_no_partial_data(good_account, settings):
    """Page 1 fine, page 2 a 502: nothing of page 1 replaces the good data; not every request
    failed, so the account stays COMPLETE, but the outage is an issue."""
    base = settings.SANDBOX_PROVIDER_URL
    before = _snapshot(good_account)
    changed = [{"id": f"emp_{i:04d}", "first_name": "Changed"} for i in range(1, 101)]
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{base}/v1/employees", params={"cursor": "0"}).respond(
            200, json={"data": changed, "next_cursor": "100"}
        )
        mock.get(f"{base}/v1/employees", params={"cursor": "100"}).respond(502, text="Bad gateway")
        run = _sync(good_account)
    assert run.status == "FAILED" and run.requests_total == 2 and run.requests_failed == 1
    assert _snapshot(good_account) == before
    assert LinkedAccount.objects.get(pk=good_account.pk).status == "COMPLETE"
    assert Issue.objects.get(linked_account=good_account).error_description == "Third-party offline"


@pytest.mark.django_db
def test_unmappable_records_make_a_partial_sync(good_account, settings):
    base = settings.SANDBOX_PROVIDER_URL
    records = [{"id": "emp_0001", "first_name": "Renamed", "last_name": "L"}, {"first_name": "no id"}]
    with respx.mock:
        respx.get(f"{base}/v1/employees").respond(200, json={"data": records, "next_cursor": None})
        run = _sync(good_account)
    assert run.status == "PARTIALLY_SYNCED" and run.records_skipped == 1
    assert Employee.objects.get(linked_account=good_account, remote_id="emp_0001").first_name == "Renamed"
    # A partial run cannot tell a missing record from an unmappable one: nothing is marked deleted.
    assert not Employee.objects.filter(linked_account=good_account, remote_was_deleted=True).exists()


@pytest.mark.django_db
def test_paging_loop_is_a_bad_response(good_account, settings):
    base = settings.SANDBOX_PROVIDER_URL
    with respx.mock:
        respx.get(f"{base}/v1/employees").respond(200, json={"data": [], "next_cursor": "0"})
        run = _sync(good_account)
    assert run.error_class == "bad_response" and "loop" in run.error_message


@pytest.mark.django_db
def test_gzip_bomb_is_capped_on_decoded_size(good_account, settings):
    import gzip

    settings.SYNC_MAX_RESPONSE_BYTES = 100_000
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    base = settings.SANDBOX_PROVIDER_URL
    with respx.mock:
        respx.get(f"{base}/v1/employees").mock(
            return_value=httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
        )
        run = _sync(good_account)
    assert run.error_class == "bad_response" and "larger than" in run.error_message


def test_redact_url_strips_secrets():
    url = "https://user:pw@api.example.com/v1/acme/sk_live_abcdef/employees?api_key=s3cret&page=2&access_token=t"
    clean = redact_url(url, ["sk_live_abcdef"])
    assert "pw" not in clean and "s3cret" not in clean and "sk_live_abcdef" not in clean and "=t" not in clean
    assert "page=2" in clean and clean.startswith("https://api.example.com/v1/acme/***/employees")
