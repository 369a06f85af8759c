"""A link whose credentials fail leaves an INCOMPLETE account an operator can see, with why and
with every attempt, and it is never billed."""

from datetime import timedelta

import httpx
import pytest
import respx
import time_machine
from django.utils import timezone

from accounts.models import LinkedAccount
from linking.finish import link_finish

from .helpers import account_page_and_attempts, create_link_token, exchange, sandbox_finish


@pytest.mark.django_db
def test_the_account_page_says_why_and_lists_the_attempts(owner, sandbox_provider):
    link_token = create_link_token(owner, origin_id="attempts-1")["link_token"]
    assert sandbox_finish(owner, link_token, "wrong_key_value_1").status_code == 400
    account = LinkedAccount.objects.get()
    page, panel = account_page_and_attempts(owner, account, username="attempts-op")
    assert "Incomplete" in page and "credentials failed (Invalid API key)" in page
    assert panel.count("failed: Invalid API key") == 1
    assert "wrong_key_value_1" not in page + panel

    done = sandbox_finish(owner, link_token, "sk_sandbox_attempts")
    assert exchange(owner, done.json()["public_token"]).json()["id"] == str(account.id)
    _, panel = account_page_and_attempts(owner, account, username="attempts-op-2")
    assert "failed: Invalid API key" in panel and "— linked" in panel


@pytest.mark.django_db
def test_an_incomplete_account_is_never_billed(owner):
    """A production end user whose BambooHR key is refused (the provider mocked at its HTTP
    boundary): the INCOMPLETE account exists, and a finished month bills nothing for it."""
    link_token = create_link_token(owner, test=False, origin_id="unbilled-1", integration="bamboohr")[
        "link_token"
    ]
    with respx.mock() as mock:
        mock.get("https://api.bamboohr.com/api/gateway.php/acme/v1/employees").mock(
            return_value=httpx.Response(401)
        )
        finished = link_finish(
            link_token=link_token,
            integration="bamboohr",
            credentials={"company_domain": "acme", "api_key": "nope"},
        )
    assert not finished.ok
    account = LinkedAccount.objects.get(end_user_origin_id="unbilled-1")
    assert account.status == "INCOMPLETE" and account.account_type == "PRODUCTION"
    month = timezone.now().strftime("%Y-%m")
    next_month = (timezone.now().replace(day=1) + timedelta(days=32)).replace(day=1, hour=1)
    with time_machine.travel(next_month):  # the whole month is over and counted
        usage = owner.client().get("/api/billing/v1/usage", {"month": month}).json()
    assert usage["billable_account_days"] == 0
    assert usage["excluded_account_days"]["incomplete"] >= 1
