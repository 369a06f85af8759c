"""Writes of the OAuth 2.0 link flow: start a consent round trip, finish it at the callback.

The callback finishes the link through `link_finish`, the same service as the API-key form (a
relink keeps the account's id and token, resolves its credential issues and queues a sync).
A consent that does not finish is a link attempt like a refused API key (`linking/attempts.py`):
starting one records the attempt, on the origin id's account (a new one is INCOMPLETE, "OAuth
consent was started but not finished"), and the callback settles it: declined, refused, token
exchange failed (the provider's error code, never a secret), or linked.
The protocol (authorization URL with PKCE S256, code exchange) is the integration's, which uses
Authlib; this module keeps the `state`: bound to the link token and to the browser (a cookie
nonce), single use (a conditional UPDATE claims it), valid OAUTH_STATE_TTL_SECONDS.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import catalog
from accounts.crypto import constant_time_equals, decrypt_json, encrypt_json, token_hash
from accounts.models import Organization
from syncs.services_oauth import (
    OAuthLinkError,
    oauth_authorization_url,
    oauth_exchange_code,
    oauth_headless_consent,
    oauth_missing_scopes,
)

from .attempts import link_attempt_record_failure, link_attempt_settle
from .finish import LinkFinished, LinkProblem, link_finish_validated, link_target_resolve
from .models import LinkToken, SingleUse
from .models_oauth import OAuthConsent
from .selectors import link_token_find, link_token_problem

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/link/oauth/callback"
UNFINISHED = "OAuth consent not finished"
_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,60}")


def _code(value: str) -> str:
    """A provider's error code as recorded: its own word when it is one, never free text."""
    return value if _CODE.fullmatch(value or "") else "an unrecognised error"


def oauth_callback_url(*, base_url: str | None = None) -> str:
    """The redirect URI a deployment registers with each OAuth provider."""
    return (base_url or settings.PUBLIC_BASE_URL).rstrip("/") + CALLBACK_PATH


@dataclass
class ConsentStarted:
    url: str  # where to send the browser
    browser_nonce: str  # the cookie that binds the state to this browser


@dataclass
class ConsentOutcome:
    """`kind`: linked | failed (the provider rejected the new tokens) | declined |
    missing_scopes | invalid (bad/replayed/expired state, missing code, provider error)."""

    kind: str
    message: str = ""
    finished: LinkFinished | None = None
    link_token: LinkToken | None = None
    raw_link_token: str = ""
    integration: str = ""
    popup: bool = False
    magic: bool = False


def oauth_consent_start(
    *,
    raw_link_token: str,
    link_token: LinkToken,
    integration: str,
    redirect_uri: str,
    popup: bool = False,
    magic: bool = False,
    browser_nonce: str = "",
) -> ConsentStarted:
    """Remember a new authorization request and return the provider's consent URL. The
    browser's existing nonce is kept (several tabs may each start one). The attempt is recorded
    as not finished until the callback settles it (a new end user's account: INCOMPLETE)."""
    problem = link_token_problem(token=link_token)
    if problem:
        raise LinkProblem(problem)
    target = link_target_resolve(link_token=raw_link_token, integration=integration)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    nonce = browser_nonce or secrets.token_urlsafe(32)
    url = oauth_authorization_url(
        integration=integration, redirect_uri=redirect_uri, state=state, code_verifier=verifier
    )
    with transaction.atomic():
        attempt = link_attempt_record_failure(
            token=target.token,
            category=target.category,
            integration=integration,
            error_description=UNFINISHED,
            message="",
            detail="OAuth consent was started but not finished",
        )
        OAuthConsent.objects.create(
            attempt=attempt,
            link_token=link_token,
            integration=integration,
            state_hash=token_hash(f"oauth-state:{state}"),
            browser_hash=token_hash(f"oauth-browser:{nonce}"),
            secrets_encrypted=encrypt_json({"code_verifier": verifier, "link_token": raw_link_token}),
            redirect_uri=redirect_uri,
            popup=popup,
            magic=magic,
            expires_at=timezone.now() + timedelta(seconds=settings.OAUTH_STATE_TTL_SECONDS),
        )
    return ConsentStarted(url=url, browser_nonce=nonce)


def oauth_consent_finish(
    *,
    state: str,
    browser_nonce: str,
    code: str = "",
    error: str = "",
    organization: Organization | None = None,
    account_type: str | None = None,
) -> ConsentOutcome:
    """The provider sent the browser back. Claims the state (once), then declines, refuses
    or finishes the link. Credentials are stored only when the link is finished; otherwise the
    consent's link attempt says why (a state from another browser, replayed or expired changes
    nothing: that attempt stays not finished)."""
    consent = (
        OAuthConsent.objects.select_related("link_token__organization")
        .filter(state_hash=token_hash(f"oauth-state:{state or ''}"))
        .first()
        if state and len(state) <= 200
        else None
    )
    if consent is None:
        return ConsentOutcome("invalid", "This sign-in attempt is not valid. Start again from your link.")
    secret = decrypt_json(consent.secrets_encrypted)
    outcome = ConsentOutcome(
        "invalid",
        link_token=consent.link_token,
        raw_link_token=secret["link_token"],
        integration=consent.integration,
        popup=consent.popup,
        magic=consent.magic,
    )
    if not constant_time_equals(consent.browser_hash, token_hash(f"oauth-browser:{browser_nonce or ''}")):
        outcome.message = "This sign-in was started in another browser or window. Start again from your link."
        return outcome
    now = timezone.now()
    claimed = OAuthConsent.objects.filter(SingleUse.usable(now), pk=consent.pk).update(used_at=now)
    if not claimed:
        outcome.message = (
            "This sign-in attempt was already used. Start again from your link."
            if consent.used_at is not None
            or OAuthConsent.objects.filter(pk=consent.pk, used_at__isnull=False).exists()
            else "This sign-in attempt expired. Start again from your link."
        )
        return outcome
    name = catalog.get(consent.integration).name

    def settle(error_description: str, detail: str) -> ConsentOutcome:
        link_attempt_settle(
            attempt_id=consent.attempt_id, error_description=error_description, message=detail, detail=detail
        )
        return outcome

    if error == "access_denied":
        outcome.kind = "declined"
        outcome.message = f"You declined to connect {name}. Nothing was saved."
        return settle("OAuth consent declined", "The end user declined the OAuth consent")
    if error:
        outcome.message = (
            f"{name} could not complete the sign-in ({error[:60]}). Nothing was saved; try again."
        )
        return settle("OAuth consent failed", f"OAuth consent failed: the provider answered {_code(error)}")
    if not code:
        outcome.message = f"{name} did not send an authorization code back. Nothing was saved; try again."
        return settle("OAuth consent failed", "OAuth consent failed: the provider sent no authorization code")
    try:
        credentials = oauth_exchange_code(
            integration=consent.integration,
            code=code,
            code_verifier=secret["code_verifier"],
            redirect_uri=consent.redirect_uri,
        )
    except OAuthLinkError as exc:
        outcome.message = f"{name} did not accept the sign-in: {exc.message} Nothing was saved; try again."
        return settle("OAuth token exchange failed", f"OAuth token exchange failed: {_code(exc.code)}")
    missing = oauth_missing_scopes(integration=consent.integration, credentials=credentials)
    if missing:
        outcome.kind = "missing_scopes"
        outcome.message = (
            f"{name} did not grant the permission to {', '.join(missing)}. Nothing was saved. "
            f"Try again and allow it (or ask your administrator to)."
        )
        return settle(
            "Missing permissions", f"OAuth consent granted too few permissions: missing {', '.join(missing)}"
        )
    try:
        # The code exchange proved the tokens: the same finish as the form's, minus its check.
        finished = link_finish_validated(
            link_token=secret["link_token"],
            integration=consent.integration,
            credentials=credentials,
            organization=organization,
            account_type=account_type,
            attempt_id=consent.attempt_id,
        )
    except LinkProblem as exc:
        outcome.message = exc.message
        return settle("Link not finished", f"The link could not be finished: {exc.message}")
    outcome.finished = finished
    outcome.kind = "linked" if finished.ok else "failed"
    outcome.message = finished.message
    return outcome


def oauth_link_headless(
    *, raw_link_token: str, integration: str, organization: Organization, account_type: str
) -> ConsentOutcome:
    """The sandbox public-token path: a real consent round trip answered "Allow" by the
    sandbox provider itself, then the same finish as a browser's callback. Raises LinkProblem
    for a token that is unknown (to this organization and environment), used or expired."""
    link_token = link_token_find(raw_token=raw_link_token)
    if link_token is not None and (
        link_token.organization_id != organization.id or link_token.account_type != account_type
    ):
        link_token = None
    problem = link_token_problem(token=link_token)
    if problem:
        raise LinkProblem(problem)
    fixed = link_token.linked_account.integration if link_token.linked_account else link_token.integration
    if fixed and fixed != integration:
        raise LinkProblem("integration", f"This link is for {catalog.get(fixed).name}.")
    try:
        started = oauth_consent_start(
            raw_link_token=raw_link_token,
            link_token=link_token,
            integration=integration,
            redirect_uri=oauth_callback_url(),
        )
        answer = oauth_headless_consent(integration=integration, authorization_url=started.url)
    except OAuthLinkError as exc:
        return ConsentOutcome("invalid", exc.message)
    return oauth_consent_finish(
        state=answer.get("state", ""),
        browser_nonce=started.browser_nonce,
        code=answer.get("code", ""),
        error=answer.get("error", ""),
        organization=organization,
        account_type=account_type,
    )
