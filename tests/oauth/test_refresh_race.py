"""THE RACE, with real pieces: Celery worker processes (two workers, three processes each) on
PostgreSQL, the sandbox OAuth server on a socket counting every reuse of a spent refresh token.

50 concurrent jobs (a forced sync and a credential check for each of 25 accounts) start at the
same moment with every access token expired, so two processes need each account's refresh at
once. A rotating refresh token must never be sent twice, and a healthy account must never look
broken. One of the 25 grants is revoked: it, and only it, becomes RELINK_NEEDED once, with one
issue."""

import time

import pytest
from django.utils import timezone

from accounts.crypto import encrypt_json
from accounts.models import LinkedAccount, LinkedAccountStatusChange
from accounts.selectors import linked_account_credentials
from issues.models import Issue
from syncs.models import OAuthToken, RequestLog, SyncRun
from syncs.oauth_tokens import source_hash
from syncs.tasks import sync_account, validate_account_credentials
from tests.conftest import WorkerProcess, wait_until

from .conftest import oauth_link

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ACCOUNTS = 25


def _expire_everywhere(account, owner, token) -> None:
    """The access token has expired for the provider AND in our store (all in the same minute)."""
    api = owner.client(test=True, account_token=token)
    assert api.post("/api/sandbox/v1/expire-access-token").status_code == 200
    linked = linked_account_credentials(account=account)
    past = time.time() - 30
    OAuthToken.objects.update_or_create(
        linked_account=account,
        defaults={
            "source_hash": source_hash(linked),
            "tokens_encrypted": encrypt_json({**linked, "expires_at": past}),
            "access_expires_at": timezone.now(),
        },
    )


def _checked(account) -> bool:
    """The credential check of the account has run (it writes its request logs)."""
    return RequestLog.objects.filter(linked_account=account, sync_run__isnull=True).exists()


def _paused(account) -> bool:
    """The account's sync made it RELINK_NEEDED before its credential check ran: the check then
    skips it (only live accounts are checked), leaving no request log to wait for."""
    return LinkedAccount.objects.filter(pk=account.pk, status="RELINK_NEEDED").exists()


def test_fifty_concurrent_refreshes_no_reuse_no_false_relink(owner, sandbox_provider, monkeypatch):
    monkeypatch.setenv("SYNC_HTTP_TIMEOUT_SECONDS", "10")
    linked = [oauth_link(owner, origin_id=f"race-{i}") for i in range(ACCOUNTS)]
    revoked, revoked_token = linked[-1]
    for account, token in linked:
        _expire_everywhere(account, owner, token)
    api = owner.client(test=True, account_token=revoked_token)
    assert api.post("/api/sandbox/v1/reset-login").status_code == 200
    oauth = sandbox_provider.state.oauth
    assert oauth.refresh_count == 0

    # All 50 jobs are queued before any worker runs, so they start together.
    sync_account.app.control.purge()
    for account, _ in linked:
        sync_account.delay(str(account.pk), trigger="forced", reason="race")
        validate_account_credentials.delay(str(account.pk))
    workers = [WorkerProcess(concurrency=3, queues="syncs").start() for _ in range(2)]
    try:
        wait_until(
            lambda: all(_checked(a) or _paused(a) for a, _ in linked),
            timeout=240,
            message="every credential check",
        )
        wait_until(
            lambda: (
                SyncRun.objects.filter(status="DONE").values("linked_account").distinct().count()
                == ACCOUNTS - 1
                and SyncRun.objects.filter(linked_account=revoked, status="FAILED").exists()
                and not SyncRun.objects.filter(status="RUNNING").exists()
            ),
            timeout=240,
            message="every sync",
        )
    finally:
        for worker in workers:
            worker.stop()

    # Not one refresh token was sent twice; every healthy grant rotated.
    assert oauth.reuse_count == 0
    healthy = [a for a, _ in linked[:-1]]
    assert all(OAuthToken.objects.get(pk=a.pk).generation >= 1 for a in healthy)
    # Exactly one refresh per healthy grant: whoever came second used the winner's tokens.
    assert oauth.refresh_count == len(healthy)
    # No healthy account looks broken.
    assert set(
        LinkedAccount.objects.filter(pk__in=[a.pk for a in healthy]).values_list("status", flat=True)
    ) == {"COMPLETE"}
    assert not Issue.objects.filter(linked_account__in=healthy).exists()
    # The revoked grant: one transition to RELINK_NEEDED, one issue naming the OAuth error.
    assert LinkedAccount.objects.get(pk=revoked.pk).status == "RELINK_NEEDED"
    transitions = LinkedAccountStatusChange.objects.filter(
        linked_account_uuid=revoked.pk, to_status="RELINK_NEEDED"
    )
    assert transitions.count() == 1
    issues = Issue.objects.filter(linked_account=revoked)
    assert issues.count() == 1
    assert issues.get().error_description == "Invalid API key"
    assert "invalid_grant" in " ".join(issues.get().error_details)
