"""An OAuth consent that does not finish is a link attempt like a refused API key: the end user
who starts one and abandons it, declines it or whose token exchange fails leaves ONE INCOMPLETE
account saying why, with the attempt on the dashboard's account page; starting again and allowing
completes that same account. A relink's account keeps its status. Driven through Django's test
client and the sandbox OAuth server on a real socket (its consent page answered over HTTP)."""

import pytest
from django.db import connection

from accounts.crypto import token_hash
from accounts.models import LinkedAccount
from linking.models import LinkAttempt, LinkToken
from linking.oauth import oauth_callback_url, oauth_consent_start
from tests.linking.helpers import account_page_and_attempts, create_link_token, exchange, sandbox_finish
from tests.threads import race

from .conftest import consent_answer, consent_callback, consent_start, oauth_link


def _attempts(account) -> list[tuple[bool, str]]:
    rows = LinkAttempt.objects.filter(linked_account=account).order_by("created_at")
    return [(a.succeeded, a.error_description) for a in rows]


def _listed(owner, account) -> dict:
    """The account as GET /linked-accounts lists it."""
    body = owner.client(test=True).get("/api/hris/v1/linked-accounts", {"id": str(account.id)}).json()
    assert len(body["results"]) == 1
    return body["results"][0]


@pytest.mark.django_db
def test_an_abandoned_consent_leaves_one_incomplete_account_on_the_dashboard(owner, client, sandbox_provider):
    link = create_link_token(owner, origin_id="abandon-1", integration="sandbox_oauth")
    consent_start(client, link["link_token"])  # the end user goes to the provider and never comes back
    consent_start(client, link["link_token"])  # ... twice

    account = LinkedAccount.objects.get()
    assert (account.status, account.integration, account.credentials_encrypted) == (
        "INCOMPLETE",
        "sandbox_oauth",
        "",
    )
    listed = _listed(owner, account)
    assert listed["status"] == "INCOMPLETE"
    assert listed["status_detail"] == "OAuth consent was started but not finished"
    assert _attempts(account) == [(False, "OAuth consent not finished")] * 2

    page, panel = account_page_and_attempts(owner, account, username="consent-op")
    assert "Incomplete" in page and "OAuth consent was started but not finished" in page
    assert panel.count("failed: OAuth consent not finished") == 2
    # Never billed: the billing month counts no INCOMPLETE account (tests/linking/test_incomplete_accounts.py).


@pytest.mark.django_db
def test_declined_then_allowed_completes_the_same_account(owner, client, sandbox_provider):
    link = create_link_token(owner, origin_id="decline-1", integration="sandbox_oauth")
    declined = consent_callback(client, consent_answer(consent_start(client, link["link_token"]), "deny"))
    assert "You declined" in declined.content.decode()
    account = LinkedAccount.objects.get()
    first_id = account.id
    assert _listed(owner, account)["status_detail"] == "The end user declined the OAuth consent"
    assert _attempts(account) == [(False, "OAuth consent declined")]

    allowed = consent_callback(client, consent_answer(consent_start(client, link["link_token"])))
    assert allowed.status_code == 200 and "Connected" in allowed.content.decode()
    account = LinkedAccount.objects.get()  # still the only one
    assert account.id == first_id and account.status == "COMPLETE"
    assert _listed(owner, account)["status_detail"] == ""
    assert _attempts(account) == [(False, "OAuth consent declined"), (True, "")]
    # The same account token semantics as the API-key path: the public token gives this account.
    public_token = allowed.context["public_token"]
    assert exchange(owner, public_token).json()["id"] == str(account.id)


@pytest.mark.django_db
def test_a_failed_token_exchange_says_so_with_the_providers_code_only(owner, client, sandbox_provider):
    link = create_link_token(owner, origin_id="exchange-1", integration="sandbox_oauth")
    back = consent_answer(consent_start(client, link["link_token"]))
    forged = "code-the-provider-never-issued-" + back["code"]
    response = consent_callback(client, {"state": back["state"], "code": forged})
    assert response.status_code == 400 and "did not accept the sign-in" in response.content.decode()

    account = LinkedAccount.objects.get()
    detail = _listed(owner, account)["status_detail"]
    assert detail == "OAuth token exchange failed: invalid_grant"
    attempt = LinkAttempt.objects.get(linked_account=account)
    stored = f"{account.status_detail} {attempt.error_description} {attempt.message}"
    assert back["code"] not in stored and back["state"] not in stored
    assert LinkToken.objects.get().used_at is None  # the end user may try again

    # Starting again and allowing completes the same account.
    again = consent_callback(client, consent_answer(consent_start(client, link["link_token"])))
    assert again.status_code == 200
    assert LinkedAccount.objects.get().pk == account.pk
    assert LinkedAccount.objects.get().status == "COMPLETE"


@pytest.mark.django_db
def test_an_abandoned_consent_does_not_stop_linking_another_integration(owner, client, sandbox_provider):
    """The end user goes back from the consent page and links with an API key instead: the same
    account, now of the integration actually linked."""
    link = create_link_token(owner, origin_id="switch-1")
    consent_start(client, link["link_token"])
    started = LinkedAccount.objects.get()
    assert started.integration == "sandbox_oauth"
    finished = sandbox_finish(owner, link["link_token"], "sk_sandbox_switch")
    assert finished.status_code == 201, finished.content
    account = LinkedAccount.objects.get()
    assert (account.pk, account.integration, account.status) == (started.pk, "sandbox", "COMPLETE")
    assert _attempts(account) == [(False, "OAuth consent not finished"), (True, "")]


@pytest.mark.django_db
def test_a_new_link_token_after_an_abandoned_consent_offers_every_integration(
    owner, client, sandbox_provider
):
    """The customer's backend makes a new link token for the end user who abandoned a consent:
    not a relink bound to the abandoned integration; any finish completes the same account."""
    consent_start(client, create_link_token(owner, origin_id="again-1")["link_token"])
    started = LinkedAccount.objects.get()
    link = create_link_token(owner, origin_id="again-1")
    assert LinkToken.objects.get(token_hash=token_hash(link["link_token"])).linked_account_id is None
    page = client.get(f"/link/{link['link_token']}").content.decode()
    assert "Reconnect" not in page and "Sandbox HRIS" in page
    finished = sandbox_finish(owner, link["link_token"], "sk_sandbox_again")
    assert finished.status_code == 201, finished.content
    body = exchange(owner, finished.json()["public_token"]).json()
    account = LinkedAccount.objects.get()
    assert body["id"] == str(started.pk) and (account.integration, account.status) == ("sandbox", "COMPLETE")


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["COMPLETE", "RELINK_NEEDED"])
def test_a_relink_consent_that_fails_or_is_abandoned_keeps_the_status(
    owner, client, sandbox_provider, status
):
    account, account_token = oauth_link(owner, origin_id="relink-1")
    if status == "RELINK_NEEDED":
        from accounts.services import linked_account_mark_relink_needed

        linked_account_mark_relink_needed(account=account, reason="test: the grant was revoked")
    link = create_link_token(owner, origin_id="relink-1")
    consent_start(client, link["link_token"])  # abandoned
    declined = consent_callback(client, consent_answer(consent_start(client, link["link_token"]), "deny"))
    assert "You declined" in declined.content.decode()

    after = LinkedAccount.objects.get()
    assert after.pk == account.pk and after.status == status
    assert after.credentials_encrypted == account.credentials_encrypted
    assert _listed(owner, after)["status"] == status
    assert _attempts(after)[-2:] == [(False, "OAuth consent not finished"), (False, "OAuth consent declined")]
    # The scoped API still answers with the same account token.
    assert (
        owner.client(test=True, account_token=account_token).get("/api/hris/v1/account-details").status_code
        == 200
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_for_one_origin_id_make_one_account(owner, sandbox_provider):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks and concurrent transactions)")
    links = [
        create_link_token(owner, origin_id="race-consent", integration="sandbox_oauth")["link_token"]
        for _ in range(8)
    ]
    tokens = {t.token_hash: t for t in LinkToken.objects.all()}
    results = race(
        [
            (
                lambda raw=raw: oauth_consent_start(
                    raw_link_token=raw,
                    link_token=tokens[token_hash(raw)],
                    integration="sandbox_oauth",
                    redirect_uri=oauth_callback_url(),
                )
            )
            for raw in links * 2  # two starts per link token, sixteen at once
        ]
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    account = LinkedAccount.objects.get(end_user_origin_id="race-consent")
    assert account.status == "INCOMPLETE"
    assert _attempts(account) == [(False, "OAuth consent not finished")] * 16
