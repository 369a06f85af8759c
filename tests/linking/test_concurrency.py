"""At most one linked account per (organization, environment, category, origin id), also when
many finishes race (PostgreSQL: real row locks and the unique constraint; threads, each with its
own database connection)."""

import pytest
from django.db import connection

from accounts.models import LinkedAccount
from linking.finish import LinkProblem, link_finish
from linking.models import PublicToken
from tests.threads import race

from .helpers import create_link_token

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks and concurrent transactions)")


def test_twenty_finishes_with_twenty_link_tokens_make_one_account(owner, sandbox_provider):
    tokens = [create_link_token(owner, origin_id="race-1")["link_token"] for _ in range(THREADS)]
    results = race(
        [
            (
                lambda t=t, i=i: link_finish(
                    link_token=t, integration="sandbox", credentials={"api_key": f"sk_sandbox_{i}"}
                )
            )
            for i, t in enumerate(tokens)
        ]
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    assert all(r.ok for r in results)
    assert LinkedAccount.objects.filter(end_user_origin_id="race-1").count() == 1
    account = LinkedAccount.objects.get(end_user_origin_id="race-1")
    assert {r.account.id for r in results} == {account.id}
    assert sum(1 for r in results if not r.is_relink) == 1  # exactly one new link
    assert account.status == "COMPLETE"
    assert PublicToken.objects.filter(linked_account=account).count() == THREADS


def test_twenty_finishes_of_one_link_token_succeed_once(owner, sandbox_provider):
    token = create_link_token(owner, origin_id="race-2")["link_token"]
    results = race(
        [
            (
                lambda i=i: link_finish(
                    link_token=token, integration="sandbox", credentials={"api_key": f"sk_sandbox_{i}"}
                )
            )
            for i in range(THREADS)
        ]
    )
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, LinkProblem)]
    assert len(ok) == 1 and ok[0].ok
    assert len(refused) == THREADS - 1 and {r.code for r in refused} == {"used"}
    assert LinkedAccount.objects.filter(end_user_origin_id="race-2").count() == 1
    assert PublicToken.objects.count() == 1
