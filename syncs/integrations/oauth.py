"""OAuth 2.0 integrations: what an OAuth provider declares, and the protocol (through Authlib).

Adding an OAuth provider: subclass :class:`OAuth2Integration` instead of ``Integration`` and set

- ``authorize_url``, ``token_url``, ``revoke_url`` (``""`` when the provider has none);
- ``scopes`` (requested) and ``required_scopes`` (a grant without one of them is refused on
  the link page, naming the missing permission);
- ``client_id_env`` / ``client_secret_env``: the environment variables a deployment sets with
  the app's credentials (the sandbox needs none: it is a public client with PKCE);
- ``token_endpoint_auth_method``: ``client_secret_post``, ``client_secret_basic`` or ``none``;
- ``grant_expiry_fields``: token-response fields that state the refresh token's (absolute)
  lifetime in seconds (``refresh_token_expires_in``, QuickBooks' ``x_refresh_token_expires_in``);
- ``idle_expiry_days``: a grant that dies when unused this long is refreshed by the keep-alive
  job before then (``None``: the provider's grants do not die idle);
- ``oauth_compliance_hooks()``: Authlib's hooks for a token endpoint that strays from RFC 6749.

``validate``/``fetch_pages`` call ``session.get_json(...)`` WITHOUT an Authorization header: the
:class:`OAuthSession` signs every request with a valid access token, refreshed ahead of expiry
through its token source (single-flight per account, see ``syncs/oauth_tokens.py``), and after
a 401 refreshes once and retries. The protocol itself (authorization URL with PKCE S256, code
exchange, refresh, revoke) is Authlib's httpx ``OAuth2Client``; this module only maps its
answers and errors onto Relink's error classes.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import authlib.deprecate  # noqa: E402, F401  (installs Authlib's own warning filter first)
import httpx
from django.conf import settings

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 fork and warns on import; it works with httpx, which the
    # rest of Relink uses.
    warnings.simplefilter("ignore")
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client

from outbound import http as outbound_http

from .base import (
    AuthType,
    ErrorClass,
    Integration,
    LoggedRequest,
    ProviderError,
    ProviderSession,
    provider_profile,
    redact_url,
)
from .oauth_session import (  # noqa: F401  (TokenSet, epoch_to_datetime: the OAuth API of syncs)
    OAuthSession,
    StaticTokenSource,
    TokenSet,
    TokenSource,
    epoch_to_datetime,
    float_or_none,
)

# OAuth error codes (RFC 6749 5.2, RFC 6750 3.1, and what providers send in practice) by what
# they mean for the linked account.
_REJECTED = {"invalid_grant", "invalid_token", "unauthorized_client", "invalid_client", "access_denied"}
_PERMISSION = {"insufficient_scope", "invalid_scope"}
_OFFLINE = {"server_error", "temporarily_unavailable"}


_local = threading.local()


class OAuth2Integration(Integration):
    auth_type = AuthType.OAUTH2
    credential_fields = ()
    authorize_url: ClassVar[str] = ""
    token_url: ClassVar[str] = ""
    revoke_url: ClassVar[str] = ""
    scopes: ClassVar[tuple[str, ...]] = ()
    required_scopes: ClassVar[tuple[str, ...]] = ()
    scope_labels: ClassVar[dict[str, str]] = {}  # plain words for the end user
    client_id_env: ClassVar[str] = ""
    client_secret_env: ClassVar[str] = ""
    token_endpoint_auth_method: ClassVar[str] = "client_secret_post"
    grant_expiry_fields: ClassVar[tuple[str, ...]] = (
        "refresh_token_expires_in",
        "x_refresh_token_expires_in",
    )
    idle_expiry_days: ClassVar[int | None] = None
    extra_authorize_params: ClassVar[dict[str, str]] = {}

    # --- endpoints and client credentials (overridable: the sandbox's move with its URL) ----
    def endpoints(self) -> dict[str, str]:
        return {"authorize": self.authorize_url, "token": self.token_url, "revoke": self.revoke_url}

    def client_credentials(self) -> tuple[str, str]:
        """From the settings named by client_id_env / client_secret_env (read from the
        environment by config/settings.py)."""
        client_id = getattr(settings, self.client_id_env, "") if self.client_id_env else ""
        secret = getattr(settings, self.client_secret_env, "") if self.client_secret_env else ""
        return client_id, secret

    def is_configured(self) -> bool:
        return bool(self.client_credentials()[0])

    def missing_scopes(self, granted: tuple[str, ...] | list[str]) -> list[str]:
        return [s for s in self.required_scopes if s not in set(granted)]

    def scope_label(self, scope: str) -> str:
        return self.scope_labels.get(scope, scope)

    def missing_credentials(self, credentials: dict[str, Any]) -> list[str]:
        return [] if credentials.get("access_token") else ["access_token"]

    def oauth_compliance_hooks(self) -> dict[str, Any]:
        """Authlib compliance hooks (hook type -> function) for a provider whose token endpoint
        strays from RFC 6749, e.g. an error answer without ``error`` (see hubspot.py)."""
        return {}

    # --- the protocol (Authlib) ---------------------------------------------------------------------
    def _client(self, redirect_uri: str = "") -> OAuth2Client:
        """One Authlib client per thread and integration (it is an httpx.Client: its connection
        pool is reused); per-call state (redirect URI, token) is set before each use."""
        clients = getattr(_local, "clients", None)
        if clients is None or getattr(_local, "pid", None) != os.getpid():
            clients = _local.clients = {}
            _local.pid = os.getpid()
        client_id, secret = self.client_credentials()
        key = (self.slug, client_id, secret)
        client = clients.get(key)
        if client is None:
            # Token calls go out like every provider call: outbound's pinned transport (the
            # address policy on every connection), the providers' timeouts.
            profile = provider_profile(internal=self.internal_service)
            limits = httpx.Limits(max_connections=20, max_keepalive_connections=5)
            client = OAuth2Client(
                transport=outbound_http.PinnedTransport(allow_loopback=profile.allow_loopback, limits=limits),
                trust_env=False,
                client_id=client_id,
                client_secret=secret or None,
                token_endpoint_auth_method=self.token_endpoint_auth_method,
                revocation_endpoint_auth_method=self.token_endpoint_auth_method,
                scope=" ".join(self.scopes),
                code_challenge_method="S256",
                timeout=profile.timeout(),
                headers={"User-Agent": "Relink-Sync/1.0", "Accept": "application/json"},
            )
            for hook_type, hook in self.oauth_compliance_hooks().items():
                client.register_compliance_hook(hook_type, hook)
            clients[key] = client
        client.redirect_uri = redirect_uri or None
        return client

    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str) -> str:
        url, _ = self._client(redirect_uri).create_authorization_url(
            self.endpoints()["authorize"],
            state=state,
            code_verifier=code_verifier,
            **self.extra_authorize_params,
        )
        return url

    def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str, log: list[LoggedRequest] | None = None
    ) -> TokenSet:
        client = self._client(redirect_uri)
        url = self.endpoints()["token"]
        raw = self._token_call(
            lambda: client.fetch_token(
                url, grant_type="authorization_code", code=code, code_verifier=code_verifier
            ),
            url=url,
            log=log,
        )
        return self.token_set(raw, previous=None)

    def refresh(self, *, tokens: TokenSet, log: list[LoggedRequest] | None = None) -> TokenSet:
        if not tokens.refresh_token:
            raise ProviderError(
                ErrorClass.CREDENTIALS_REJECTED,
                "The access token expired and the grant has no refresh token.",
            )
        client = self._client()
        url = self.endpoints()["token"]
        # No scope parameter: a refresh keeps the grant's scopes (asking again may be refused).
        client.scope = None
        try:
            raw = self._token_call(
                lambda: client.refresh_token(url, refresh_token=tokens.refresh_token), url=url, log=log
            )
        finally:
            client.scope = " ".join(self.scopes)
        return self.token_set(raw, previous=tokens)

    def revoke(self, *, tokens: TokenSet) -> None:
        url = self.endpoints()["revoke"]
        if not url:
            return
        token = tokens.refresh_token or tokens.access_token
        hint = "refresh_token" if tokens.refresh_token else "access_token"
        # Best effort: the grant is forgotten on our side either way.
        with contextlib.suppress(httpx.HTTPError, OAuthError, ValueError):
            self._client().revoke_token(url, token=token, token_type_hint=hint)

    def token_set(self, raw: dict[str, Any], *, previous: TokenSet | None) -> TokenSet:
        now = time.time()
        expires_in = float_or_none(raw.get("expires_in"))
        expires_at = float_or_none(raw.get("expires_at")) if expires_in is None else now + expires_in
        grant_end = previous.grant_expires_at if previous else None
        for name in self.grant_expiry_fields:
            seconds = float_or_none(raw.get(name))
            if seconds is not None:
                grant_end = now + seconds
                break
        scope = raw["scope"] if "scope" in raw else raw.get("scopes")  # HubSpot: "scopes", a list
        if isinstance(scope, list):
            scopes = tuple(str(s) for s in scope)
        elif isinstance(scope, str):  # present, even empty: what was granted
            scopes = tuple(scope.replace(",", " ").split())
        else:
            scopes = previous.scope if previous else self.scopes
        if not raw.get("access_token"):
            raise ProviderError(ErrorClass.BAD_RESPONSE, "The token endpoint's answer had no access token.")
        return TokenSet(
            access_token=str(raw["access_token"]),
            # A provider that does not rotate answers without one: keep using the old one.
            refresh_token=str(raw.get("refresh_token") or (previous.refresh_token if previous else "")),
            expires_at=expires_at,
            scope=scopes,
            grant_expires_at=grant_end,
            token_type=str(raw.get("token_type") or "Bearer"),
        )

    def _token_call(self, call, *, url: str, log: list[LoggedRequest] | None) -> dict[str, Any]:
        started_at = datetime.now(UTC)
        started = time.monotonic()
        status: int | None = None
        error: ProviderError | None = None
        try:
            raw = call()
            status = 200
            return dict(raw)
        except OAuthError as exc:
            status = 400
            error = oauth_error(str(exc.error or ""), str(exc.description or ""))
            raise error from None
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status == 429:
                error = ProviderError(ErrorClass.RATE_LIMITED, "The token endpoint rate-limited us.", status)
            elif status >= 500:
                error = ProviderError(
                    ErrorClass.PROVIDER_OFFLINE, "The token endpoint answered with an error.", status
                )
            elif status in (401, 403):
                error = ProviderError(
                    ErrorClass.CREDENTIALS_REJECTED, "The token endpoint refused us.", status
                )
            else:
                error = ProviderError(
                    ErrorClass.BAD_RESPONSE, "The token endpoint answered unexpectedly.", status
                )
            raise error from None
        except httpx.TimeoutException:
            error = ProviderError(ErrorClass.PROVIDER_OFFLINE, "The token endpoint did not answer in time.")
            raise error from None
        except httpx.TransportError as exc:
            error = ProviderError(
                ErrorClass.PROVIDER_OFFLINE, f"Could not reach the token endpoint ({type(exc).__name__})."
            )
            raise error from None
        except ValueError:
            error = ProviderError(
                ErrorClass.BAD_RESPONSE, "The token endpoint's answer was not a JSON object."
            )
            raise error from None
        finally:
            if log is not None:
                log.append(
                    LoggedRequest(
                        method="POST",
                        url=redact_url(url),
                        started_at=started_at,
                        duration_ms=int((time.monotonic() - started) * 1000),
                        status_code=status,
                        error_class=error.error_class if error else "",
                    )
                )

    # --- sessions -------------------------------------------------------------------------------------
    def session(
        self, credentials: dict[str, Any], account: Any = None, *, tenant: str = ""
    ) -> ProviderSession:
        if account is None:
            source: TokenSource = StaticTokenSource(TokenSet.from_credentials(credentials))
        else:
            from syncs.oauth_tokens import AccountTokenSource  # the store is a model: import late

            source = AccountTokenSource(account=account, integration=self, linked_credentials=credentials)
        session = OAuthSession(integration=self, credentials=credentials, token_source=source, tenant=tenant)
        if account is not None:
            source.log = session.log
        return session

    def classify(self, response: httpx.Response) -> ProviderError | None:
        """RFC 6750: a 401/403 says which OAuth error in WWW-Authenticate (or the JSON body);
        put it in the message, so the issue's details name it."""
        error = super().classify(response)
        if error is None or response.status_code not in (400, 401, 403):
            return error
        code, description = _bearer_error(response)
        if code in _PERMISSION:
            return ProviderError(
                ErrorClass.MISSING_PERMISSIONS, _describe(code, description), response.status_code
            )
        if code:
            error.message = _describe(code, description)
        return error


def oauth_error(code: str, description: str) -> ProviderError:
    """An OAuth error answer of the token endpoint as Relink's error class."""
    message = _describe(code, description)
    if code in _PERMISSION:
        error_class = ErrorClass.MISSING_PERMISSIONS
    elif code in _OFFLINE:
        error_class = ErrorClass.PROVIDER_OFFLINE
    elif code in _REJECTED or code.upper() == "BAD_REFRESH_TOKEN":
        error_class = ErrorClass.CREDENTIALS_REJECTED
    else:
        error_class = ErrorClass.BAD_RESPONSE
    return ProviderError(error_class, message, 400, code=code)


def _describe(code: str, description: str) -> str:
    text = f"OAuth error {code}"
    if description:
        text += f": {description[:200]}"
    return text


def _bearer_error(response: httpx.Response) -> tuple[str, str]:
    header = response.headers.get("WWW-Authenticate", "")
    found: dict[str, str] = {}
    for part in header.replace("Bearer ", "", 1).split(","):
        name, _, value = part.strip().partition("=")
        if name in ("error", "error_description"):
            found[name] = value.strip().strip('"')
    if not found:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            found = {"error": body["error"], "error_description": str(body.get("error_description") or "")}
    return found.get("error", ""), found.get("error_description", "")


@dataclass
class ConsentStart:
    """Where to send the browser, and what to remember (server side) until it comes back."""

    url: str
    state: str
    code_verifier: str
    extra: dict[str, Any] = field(default_factory=dict)
