"""OAuth token store: the access token an account's requests use, refreshed single-flight.

Why a row lock (``SELECT … FOR UPDATE`` on the account's OAuthToken row) and not a generation
column claimed by a conditional UPDATE: a refresher holds the lock for one token-endpoint call
(bounded by SYNC_HTTP_TIMEOUT_SECONDS); every other process that needs the account's token
meanwhile WAITS IN THE DATABASE and, when the lock is released, reads the rotated tokens in the
same statement. With a conditional UPDATE the losers would have to poll (sleep, re-read) until
the winner commits, and to guess how long a winner may take before they take over. Both keep a
rotating refresh token from being sent twice; the lock needs no timing constant and no retry
loop. Its cost, one database connection held per waiting process, is measured by
``bench/scenarios/oauth_refresh.py`` (refreshes/s and CPU per refresh). ``generation`` still
counts rotations: a request that got 401 with generation g refreshes only if the row is still at
g (otherwise another process has already rotated: it uses the new token).

A refresh that answers ``invalid_grant`` re-reads the account's credentials: when the account
was relinked meanwhile, the new grant is used (not a failure); otherwise the grant is dead and
the error goes back to the caller (a sync run: ``Invalid API key`` issue, RELINK_NEEDED).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.crypto import decrypt_json, encrypt_json, token_hash
from accounts.models import LinkedAccount
from accounts.selectors import linked_account_credentials

from .integrations.base import ErrorClass, LoggedRequest, ProviderError
from .integrations.oauth import OAuth2Integration, TokenSet, epoch_to_datetime
from .metrics import oauth_refresh_observe
from .models_oauth import OAuthToken

logger = logging.getLogger(__name__)


def _count(outcome: str) -> None:
    """relink_oauth_refreshes_total{outcome}."""
    oauth_refresh_observe(outcome=outcome)


def source_hash(linked: dict[str, Any]) -> str:
    """Identifies the grant the end user linked (changes with every relink)."""
    return token_hash(f"oauth-grant:{linked.get('refresh_token') or ''}:{linked.get('access_token') or ''}")


def _write_fields(tokens: TokenSet) -> dict[str, Any]:
    return {
        "tokens_encrypted": encrypt_json(tokens.as_credentials()),
        "access_expires_at": epoch_to_datetime(tokens.expires_at),
        "grant_expires_at": epoch_to_datetime(tokens.grant_expires_at),
    }


def _ensure_row(*, account_id: Any, linked: dict[str, Any]) -> None:
    tokens = TokenSet.from_credentials(linked)
    OAuthToken.objects.bulk_create(
        [OAuthToken(linked_account_id=account_id, source_hash=source_hash(linked), **_write_fields(tokens))],
        ignore_conflicts=True,
    )


def _reset_to_linked(*, row: OAuthToken, linked: dict[str, Any]) -> None:
    """The account was relinked: its tokens start over from the new grant (a new grant, so a
    new expiry warning too)."""
    tokens = TokenSet.from_credentials(linked)
    fields = {
        **_write_fields(tokens),
        "source_hash": source_hash(linked),
        "generation": row.generation + 1,
        "grant_expiry_warned_at": None,
        "refreshed_at": None,
    }
    OAuthToken.objects.filter(pk=row.pk).update(**fields)
    for name, value in fields.items():
        setattr(row, name, value)


def _tokens(row: OAuthToken) -> TokenSet:
    return TokenSet.from_credentials(decrypt_json(row.tokens_encrypted))


def _account_linked_credentials(account_id: Any) -> dict[str, Any]:
    account = LinkedAccount.objects.filter(pk=account_id).only("id", "credentials_encrypted").first()
    return linked_account_credentials(account=account) if account is not None else {}


def oauth_grant_expiry_announce(*, account_id: Any) -> None:
    """A grant end was just learned: ask `linking` (a floor up, so by task name, after commit)
    to warn the end user if it is near. Its beat sweep catches any announcement lost here."""

    def send() -> None:
        from config.celery import app

        try:
            app.send_task("linking.warn_credentials_expiring", args=[str(account_id)])
        except Exception:
            logger.warning("could not queue the expiry warning of %s; the sweep will", account_id)

    transaction.on_commit(send)


@dataclass
class RefreshResult:
    tokens: TokenSet
    generation: int
    refreshed: bool  # this call rotated the tokens (False: fresh already, or another process did)
    learned_grant_end: datetime | None = None


def oauth_token_current(
    *, account_id: Any, integration: OAuth2Integration, linked: dict[str, Any], log: list | None = None
) -> tuple[TokenSet, int]:
    """The account's access token, refreshed first when it ends within the margin.

    A grant's first use (no row yet: an account's first sync) costs one read and writes
    nothing: every refresh writes the row under its lock, so without a row nothing has rotated
    the linked tokens and they are the current ones, at generation 0 (the row's first). The row
    is written by the first refresh, or now when the linked tokens state a grant end (the expiry
    warning reads it from the row)."""
    margin = settings.OAUTH_REFRESH_MARGIN_SECONDS
    row = (
        OAuthToken.objects.filter(pk=account_id)
        .values_list("source_hash", "tokens_encrypted", "generation")
        .first()
    )
    if row is None:
        tokens = TokenSet.from_credentials(linked)
        if tokens.grant_expires_at is None and not tokens.expires_within(margin):
            return tokens, 0
    elif row[0] == source_hash(linked):
        tokens = TokenSet.from_credentials(decrypt_json(row[1]))
        if not tokens.expires_within(margin):
            return tokens, row[2]
    result = oauth_token_refresh(account_id=account_id, integration=integration, linked=linked, log=log)
    return result.tokens, result.generation


def oauth_token_refresh(
    *,
    account_id: Any,
    integration: OAuth2Integration,
    linked: dict[str, Any] | None = None,
    stale_generation: int | None = None,
    force: bool = False,
    log: list[LoggedRequest] | None = None,
) -> RefreshResult:
    """Refresh the account's tokens, single-flight across every process (the row lock).

    Without ``stale_generation``: refresh when the access token ends within the margin (or
    ``force``, the keep-alive job). With it (a request got 401 using that generation): refresh
    unless the row has moved past it. Raises ProviderError when the grant is dead (or the token
    endpoint is unreachable)."""
    linked = linked if linked is not None else _account_linked_credentials(account_id)
    _ensure_row(account_id=account_id, linked=linked)
    margin = settings.OAUTH_REFRESH_MARGIN_SECONDS
    with transaction.atomic():
        row = OAuthToken.objects.select_for_update().filter(pk=account_id).first()
        if row is None:
            raise ProviderError(ErrorClass.CREDENTIALS_REJECTED, "The linked account no longer exists.")
        current = _account_linked_credentials(account_id) or linked
        if row.source_hash != source_hash(current):
            _reset_to_linked(row=row, linked=current)
        tokens = _tokens(row)
        if stale_generation is not None and row.generation != stale_generation:
            return RefreshResult(tokens, row.generation, refreshed=False)
        if stale_generation is None and not force and not tokens.expires_within(margin):
            return RefreshResult(tokens, row.generation, refreshed=False)
        try:
            fresh = integration.refresh(tokens=tokens, log=log)
        except ProviderError as exc:
            if exc.error_class == ErrorClass.CREDENTIALS_REJECTED:
                # A relink may have committed while we asked (it does not take this lock):
                # then the new grant is the answer, not a failure.
                latest = _account_linked_credentials(account_id)
                if latest and source_hash(latest) != row.source_hash:
                    _reset_to_linked(row=row, linked=latest)
                    _count("superseded")
                    return RefreshResult(_tokens(row), row.generation, refreshed=False)
                _count("invalid_grant")
                logger.info("OAuth refresh rejected: account=%s %s", account_id, exc.message)
            else:
                _count("error")
            raise
        previous_end = row.grant_expires_at
        now = timezone.now()
        fields = {**_write_fields(fresh), "generation": row.generation + 1, "refreshed_at": now}
        OAuthToken.objects.filter(pk=row.pk).update(**fields)
        _count("refreshed")
        learned = fields["grant_expires_at"] if fields["grant_expires_at"] != previous_end else None
        if learned is not None:
            oauth_grant_expiry_announce(account_id=account_id)
        return RefreshResult(fresh, row.generation + 1, refreshed=True, learned_grant_end=learned)


@dataclass
class AccountTokenSource:
    """The token source of a sync run (or validation) of one existing account."""

    account: Any
    integration: OAuth2Integration
    linked_credentials: dict[str, Any]
    log: list | None = field(default=None)
    # The tokens this run last used: the pages of one sync need no database read each while
    # the access token is far from its end.
    _held: tuple[TokenSet, int] | None = field(default=None, repr=False)

    def current(self) -> tuple[TokenSet, int]:
        if self._held is not None and not self._held[0].expires_within(settings.OAUTH_REFRESH_MARGIN_SECONDS):
            return self._held
        self._held = oauth_token_current(
            account_id=self.account.pk,
            integration=self.integration,
            linked=self.linked_credentials,
            log=self.log,
        )
        return self._held

    def after_rejection(self, *, generation: int) -> tuple[TokenSet, int]:
        result = oauth_token_refresh(
            account_id=self.account.pk,
            integration=self.integration,
            linked=self.linked_credentials,
            stale_generation=generation,
            log=self.log,
        )
        self._held = (result.tokens, result.generation)
        return self._held


def oauth_tokens_for_account(*, account: LinkedAccount) -> TokenSet | None:
    """The tokens in use now (a read, for the sandbox helpers): the stored row when it belongs
    to the account's current grant, else the linked ones."""
    linked = linked_account_credentials(account=account)
    if not linked.get("access_token"):
        return None
    row = OAuthToken.objects.filter(pk=account.pk).first()
    if row is not None and row.source_hash == source_hash(linked):
        return _tokens(row)
    return TokenSet.from_credentials(linked)
