"""The tokens of one OAuth grant, where a session gets them, and the session that signs each
provider request with them (refreshing once after a 401). The protocol itself is in oauth.py."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from .base import ErrorClass, Integration, ProviderError, ProviderSession


@dataclass
class TokenSet:
    """One grant's tokens as Relink stores them (encrypted, as the account's credentials)."""

    access_token: str
    refresh_token: str = ""
    expires_at: float | None = None  # epoch seconds; None: the provider did not say
    scope: tuple[str, ...] = ()
    grant_expires_at: float | None = None  # the refresh token's absolute end, if stated
    token_type: str = "Bearer"

    def as_credentials(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "scope": " ".join(self.scope),
            "grant_expires_at": self.grant_expires_at,
            "token_type": self.token_type,
        }

    @classmethod
    def from_credentials(cls, data: dict[str, Any]) -> TokenSet:
        return cls(
            access_token=str(data.get("access_token") or ""),
            refresh_token=str(data.get("refresh_token") or ""),
            expires_at=float_or_none(data.get("expires_at")),
            scope=tuple(str(data.get("scope") or "").split()),
            grant_expires_at=float_or_none(data.get("grant_expires_at")),
            token_type=str(data.get("token_type") or "Bearer"),
        )

    def secrets(self) -> list[str]:
        return [t for t in (self.access_token, self.refresh_token) if t]

    def expires_within(self, seconds: float, *, now: float | None = None) -> bool:
        if self.expires_at is None:
            return False
        return self.expires_at - (now if now is not None else time.time()) <= seconds


def float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def epoch_to_datetime(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


class TokenSource(Protocol):
    """Where an OAuthSession gets its access token: the account's token store, or (while
    linking) the tokens just obtained."""

    def current(self) -> tuple[TokenSet, int]: ...

    def after_rejection(self, *, generation: int) -> tuple[TokenSet, int]: ...


@dataclass
class StaticTokenSource:
    """Fresh tokens from a code exchange: nothing to refresh yet; a 401 is a real rejection."""

    tokens: TokenSet

    def current(self) -> tuple[TokenSet, int]:
        return self.tokens, 0

    def after_rejection(self, *, generation: int) -> tuple[TokenSet, int]:
        raise ProviderError(
            ErrorClass.CREDENTIALS_REJECTED, "The provider rejected the new access token.", 401
        )


class OAuthSession(ProviderSession):
    """A ProviderSession that signs each request with a valid access token."""

    def __init__(
        self,
        *,
        integration: Integration,
        credentials: dict[str, Any],
        token_source: TokenSource,
        tenant: str = "",
    ):
        super().__init__(integration=integration, credentials=credentials, tenant=tenant)
        self.token_source = token_source
        self.secrets += TokenSet.from_credentials(credentials).secrets()

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any):
        tokens, generation = self.token_source.current()
        try:
            return super().request(method, url, headers=self._signed(headers, tokens), **kwargs)
        except ProviderError as exc:
            if exc.error_class != ErrorClass.CREDENTIALS_REJECTED:
                raise
        # 401: the access token stopped working before its stated end (revoked, rotated by the
        # provider, clock skew). Refresh once (unless another process already did) and retry.
        tokens, generation = self.token_source.after_rejection(generation=generation)
        return super().request(method, url, headers=self._signed(headers, tokens), **kwargs)

    def _signed(self, headers: dict[str, str] | None, tokens: TokenSet) -> dict[str, str]:
        for secret in tokens.secrets():
            if secret not in self.secrets:
                self.secrets.append(secret)
        return {**(headers or {}), "Authorization": f"Bearer {tokens.access_token}"}
