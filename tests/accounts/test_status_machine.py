from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from accounts.crypto import token_hash
from accounts.models import LinkedAccount, LinkedAccountStatus, LinkedAccountStatusChange
from accounts.services import (
    linked_account_mark_complete,
    linked_account_mark_idle,
    linked_account_mark_relink_needed,
    linked_account_record_inbound_use,
)

S = LinkedAccountStatus
ALLOWED = {
    (S.INCOMPLETE, "complete"): S.COMPLETE,
    (S.RELINK_NEEDED, "complete"): S.COMPLETE,
    (S.IDLE, "complete"): S.COMPLETE,
    (S.COMPLETE, "relink"): S.RELINK_NEEDED,
    (S.IDLE, "relink"): S.RELINK_NEEDED,
    (S.COMPLETE, "idle"): S.IDLE,
}
SERVICES = {
    "complete": linked_account_mark_complete,
    "relink": linked_account_mark_relink_needed,
    "idle": linked_account_mark_idle,
}


def _account_in(owner, status):
    account, _ = owner.linked_account(complete=False)
    if status != S.INCOMPLETE:
        linked_account_mark_complete(account=account, reason="setup")
    if status == S.RELINK_NEEDED:
        linked_account_mark_relink_needed(account=account, reason="setup")
    if status == S.IDLE:
        linked_account_mark_idle(account=account, reason="setup")
    assert account.status == status
    return account


@pytest.mark.django_db
@pytest.mark.parametrize("start", list(S))
@pytest.mark.parametrize("action", list(SERVICES))
def test_every_transition(owner, start, action):
    account = _account_in(owner, start)
    rows_before = LinkedAccountStatusChange.objects.count()
    target = ALLOWED.get((start, action))
    if target is None:
        with pytest.raises(TransitionNotAllowed):
            SERVICES[action](account=account, reason="try")
        assert LinkedAccount.objects.get(pk=account.pk).status == start
        assert LinkedAccountStatusChange.objects.count() == rows_before
    else:
        SERVICES[action](account=account, reason="because")
        assert account.status == target
        assert LinkedAccount.objects.get(pk=account.pk).status == target
        new_rows = list(LinkedAccountStatusChange.objects.order_by("id")[rows_before:])
        assert len(new_rows) == 1
        assert (new_rows[0].from_status, new_rows[0].to_status, new_rows[0].reason) == (
            start,
            target,
            "because",
        )
        assert new_rows[0].account_snapshot["status"] == target


@pytest.mark.django_db
def test_status_cannot_be_assigned_directly(owner):
    account, _ = owner.linked_account()
    with pytest.raises(AttributeError):
        account.status = S.RELINK_NEEDED


@pytest.mark.django_db
def test_completed_at_is_set_by_the_first_completion_only(owner):
    account, _ = owner.linked_account(complete=False)
    assert account.completed_at is None
    linked_account_mark_complete(account=account, reason="link")
    first = LinkedAccount.objects.get(pk=account.pk).completed_at
    assert first is not None
    linked_account_mark_relink_needed(account=account, reason="401")
    linked_account_mark_complete(account=account, reason="relink")
    assert LinkedAccount.objects.get(pk=account.pk).completed_at == first


@pytest.mark.django_db
def test_inbound_use_wakes_idle_and_is_recorded_at_most_hourly(owner, django_assert_num_queries):
    account, _ = owner.linked_account()
    linked_account_record_inbound_use(account=account)
    first = LinkedAccount.objects.get(pk=account.pk).last_inbound_at
    assert first is not None
    with django_assert_num_queries(0):
        linked_account_record_inbound_use(account=account)
    linked_account_mark_idle(account=account, reason="14 days without API requests")
    linked_account_record_inbound_use(account=account)
    assert LinkedAccount.objects.get(pk=account.pk).status == S.COMPLETE
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        linked_account_record_inbound_use(account=account)
    assert LinkedAccount.objects.get(pk=account.pk).last_inbound_at > first


@pytest.mark.django_db
def test_secrets_are_not_stored_in_clear(owner):
    account, token = owner.linked_account(credentials={"api_key": "sk_sandbox_secret_value"})
    row = LinkedAccount.objects.get(pk=account.pk)
    assert token not in row.account_token_encrypted
    assert row.account_token_hash == token_hash(token)
    assert "sk_sandbox_secret_value" not in row.credentials_encrypted


@pytest.mark.django_db
def test_one_account_per_origin_id_is_enforced_by_the_database(owner):
    from django.db import IntegrityError, transaction

    owner.linked_account(origin_id="dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        owner.linked_account(origin_id="dup")
    # Another environment or category is a different account.
    owner.linked_account(origin_id="dup", account_type="TEST")
    owner.linked_account(origin_id="dup", category="ats")
