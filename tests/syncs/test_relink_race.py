"""A relink racing an in-flight sync (issue 14, missing test 2): the run that started with the old
credentials gets the provider's 401 only after the end user relinked; it must neither reopen an
issue nor flip the relinked account back to RELINK_NEEDED (the run is superseded)."""

import threading

import pytest

from accounts.models import LinkedAccount, LinkedAccountStatus
from issues.models import Issue
from linking.finish import link_finish
from syncs.integrations.base import ErrorClass
from syncs.models import SyncRun, SyncRunStatus, SyncTrigger
from syncs.runs import sync_run_account
from syncs.sandbox_controls import sandbox_revoke_key, sandbox_set_outage
from tests.conftest import wait_until
from tests.linking.helpers import create_link_token

pytestmark = pytest.mark.django_db(transaction=True)

OLD_KEY = "sk_sandbox_race_old_key"
NEW_KEY = "sk_sandbox_race_new_key"


def test_a_run_with_the_old_credentials_does_not_undo_a_relink(owner, sandbox_provider):
    from django.db import connection

    account, _ = owner.linked_account(
        origin_id="racer", account_type="TEST", credentials={"api_key": OLD_KEY}
    )
    # The old key's requests are held a while by the provider: the window in which the end user relinks.
    sandbox_provider.state.slow_seconds = 4.0
    sandbox_set_outage(api_key=OLD_KEY, mode="slow", tenant=str(account.organization_id))
    requests_before = sandbox_provider.state.request_count

    result: dict = {}

    def run_sync():
        try:
            result["run"] = sync_run_account(account_id=str(account.pk), trigger=SyncTrigger.FORCED)
        finally:
            connection.close()

    syncing = threading.Thread(target=run_sync)
    syncing.start()
    try:
        # The run has read the old credentials once its first request reached the provider.
        wait_until(
            lambda: sandbox_provider.state.request_count > requests_before, message="the run's first request"
        )
        sandbox_revoke_key(
            api_key=OLD_KEY, tenant=str(account.organization_id)
        )  # its next request answers 401
        link_token = create_link_token(owner, origin_id="racer")["link_token"]
        relinked = link_finish(link_token=link_token, integration="sandbox", credentials={"api_key": NEW_KEY})
        assert relinked.ok and relinked.is_relink
        assert relinked.account.pk == account.pk
    finally:
        syncing.join(timeout=60)
    assert not syncing.is_alive()

    run = SyncRun.objects.get(pk=result["run"].pk)
    # The branch under test: the run did fail on the old key's 401 ...
    assert run.status == SyncRunStatus.FAILED
    assert run.error_class == ErrorClass.CREDENTIALS_REJECTED
    # ... and that failure was not held against the relinked account.
    account = LinkedAccount.objects.get(pk=account.pk)
    assert account.status == LinkedAccountStatus.COMPLETE
    assert not Issue.objects.filter(linked_account=account, status="ONGOING").exists()
    after_relink = account.status_changes.filter(at__gte=run.started_at).values_list("to_status", flat=True)
    assert "RELINK_NEEDED" not in list(after_relink)
