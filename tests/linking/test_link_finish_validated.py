"""Finishing a link with credentials already known to work (the entry point an OAuth callback
uses): the same account, issues and webhook outcome as the link page, without a second provider
check, and the same token rules."""

import pytest

from accounts.models import LinkedAccount
from accounts.selectors import linked_account_credentials, linked_account_token
from accounts.services import linked_account_mark_relink_needed
from issues.models import Issue
from issues.services import issue_record_failure
from linking.finish import LinkProblem, link_finish_validated
from syncs.models import RequestLog

from .helpers import create_link_token, deliveries

pytestmark = pytest.mark.django_db


def credential_checks() -> int:
    # A credential check's request logs belong to no account (a sync run's do).
    return RequestLog.objects.filter(linked_account__isnull=True).count()


def test_relink_with_validated_credentials_keeps_the_account_and_makes_no_check(
    owner, sandbox_provider, webhook_endpoint
):
    account, account_token = owner.linked_account(origin_id="granted-1", account_type="TEST")
    issue_record_failure(account=account, error_description="Invalid API key", detail="HTTP 401")
    linked_account_mark_relink_needed(account=account, reason="The provider rejected the API key")
    link_token = create_link_token(owner, origin_id="granted-1")["link_token"]
    checks_before = credential_checks()

    finished = link_finish_validated(
        link_token=link_token, integration="sandbox", credentials={"api_key": "sk_sandbox_granted"}
    )

    assert finished.ok and finished.is_relink and finished.public_token
    assert finished.account.id == account.id
    assert credential_checks() == checks_before  # the caller vouched for them: no provider check
    account = LinkedAccount.objects.get(pk=account.pk)
    assert account.status == "COMPLETE"
    assert linked_account_credentials(account=account) == {"api_key": "sk_sandbox_granted"}
    assert linked_account_token(account=account) == account_token
    assert Issue.objects.get(linked_account=account).status == "RESOLVED"
    [hook] = deliveries(owner.organization, "LinkedAccount.linked")
    assert hook["data"] == {"is_relink": True}


def test_validated_finish_obeys_the_token_rules(owner, sandbox_provider):
    link_token = create_link_token(owner, origin_id="granted-2")["link_token"]
    first = link_finish_validated(
        link_token=link_token, integration="sandbox", credentials={"api_key": "sk_sandbox_one"}
    )
    assert first.ok and not first.is_relink

    with pytest.raises(LinkProblem) as used:
        link_finish_validated(
            link_token=link_token, integration="sandbox", credentials={"api_key": "sk_sandbox_two"}
        )
    assert used.value.code == "used"
    with pytest.raises(LinkProblem) as unknown:
        link_finish_validated(link_token="lt_nope", integration="sandbox", credentials={"api_key": "x"})
    assert unknown.value.code == "unknown"
    account = LinkedAccount.objects.get(end_user_origin_id="granted-2")
    assert linked_account_credentials(account=account) == {"api_key": "sk_sandbox_one"}
