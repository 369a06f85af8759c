"""IDLE through the real API (issue 14, missing tests 3): inbound requests on real endpoints record
use and wake an IDLE account; the exact IDLE_AFTER_DAYS boundary; every periodic job is on beat."""

import inspect
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import LinkedAccount, LinkedAccountStatus
from accounts.services import linked_account_mark_idle
from config.celery import app
from syncs.idle import linked_accounts_mark_idle

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/api/hris/v1/account-details", "/api/hris/v1/employees", "/api/hris/v1/sync-status"]
)
def test_an_inbound_request_on_a_real_endpoint_wakes_an_idle_account(owner, path):
    account, token = owner.linked_account()
    linked_account_mark_idle(account=account, reason="No API request for this account in 14 days")
    response = owner.client(account_token=token).get(path)
    assert response.status_code == 200, response.content
    account = LinkedAccount.objects.get(pk=account.pk)
    assert account.status == LinkedAccountStatus.COMPLETE
    assert account.last_inbound_at is not None
    assert timezone.now() - account.last_inbound_at < timedelta(minutes=5)
    history = list(
        account.status_changes.order_by("-at").values_list("from_status", "to_status", "reason")[:1]
    )
    assert history == [("IDLE", "COMPLETE", "Inbound API request")]


def test_organization_endpoints_do_not_count_as_use_of_an_account(owner):
    account, token = owner.linked_account()
    # /linked-accounts ignores the account token (SDK clients send it on every call).
    assert owner.client(account_token=token).get("/api/hris/v1/linked-accounts").status_code == 200
    assert LinkedAccount.objects.get(pk=account.pk).last_inbound_at is None


def test_idle_starts_after_exactly_idle_after_days(owner, settings):
    settings.IDLE_AFTER_DAYS = 14
    account, token = owner.linked_account()
    assert owner.client(account_token=token).get("/api/hris/v1/account-details").status_code == 200
    used_at = LinkedAccount.objects.get(pk=account.pk).last_inbound_at
    with time_machine.travel(used_at + timedelta(days=14), tick=False):
        assert linked_accounts_mark_idle() == 0  # 14 days to the microsecond: not yet
    assert LinkedAccount.objects.get(pk=account.pk).status == LinkedAccountStatus.COMPLETE
    with time_machine.travel(used_at + timedelta(days=14, seconds=1), tick=False):
        assert linked_accounts_mark_idle() == 1
    assert LinkedAccount.objects.get(pk=account.pk).status == LinkedAccountStatus.IDLE


def test_every_periodic_job_is_on_the_beat_schedule():
    """A task that takes no arguments is a periodic job (the others are queued with ids by code): each
    one must be on the one beat schedule, and every beat entry must name a registered task."""
    app.loader.import_default_modules()
    ours = {
        name: task
        for name, task in app.tasks.items()
        if name.split(".")[0] in {"accounts", "issues", "syncs", "linking"}
    }
    periodic = {
        name
        for name, task in ours.items()
        if all(
            p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            for p in inspect.signature(task.run).parameters.values()
        )
    }
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert periodic, "no periodic task found: the discovery above is broken"
    assert periodic - scheduled == set()
    assert scheduled - set(app.tasks) == set()


def test_a_database_error_while_marking_idle_is_not_swallowed(owner):
    """Only "it changed meanwhile" is skipped; a failing database surfaces (the job fails and is
    retried and seen) instead of reporting zero accounts marked."""
    from django.db import DatabaseError, connection

    account, _ = owner.linked_account()
    LinkedAccount.objects.filter(pk=account.pk).update(completed_at=timezone.now() - timedelta(days=30))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_history() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'history table unavailable (test)'; END $$ LANGUAGE plpgsql; "
            "CREATE TRIGGER refuse_history BEFORE INSERT ON accounts_linkedaccountstatuschange "
            "FOR EACH ROW EXECUTE FUNCTION refuse_history();"
        )
    with pytest.raises(DatabaseError, match="history table unavailable"):
        linked_accounts_mark_idle()
