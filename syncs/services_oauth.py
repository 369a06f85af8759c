"""The OAuth services other apps call (the link page's consent round trip, the sandbox
helpers): thin wrappers over the integration's protocol (Authlib) and the token store, so that
`linking` needs nothing from `syncs` but services."""

from __future__ import annotations

from typing import Any

from accounts.models import LinkedAccount

from . import integrations
from .integrations.base import ProviderError
from .integrations.oauth import OAuth2Integration, TokenSet


class OAuthLinkError(Exception):
    """`code`: the provider's error code (or Relink's error class) when a provider call failed,
    safe to record (never a secret)."""

    def __init__(self, message: str, code: str = ""):
        self.message = message
        self.code = code
        super().__init__(message)


def oauth_integration(*, integration: str) -> OAuth2Integration:
    found = integrations.find(integration)
    if not isinstance(found, OAuth2Integration):
        raise OAuthLinkError("This integration does not sign in with OAuth.")
    return found


def oauth_authorization_url(*, integration: str, redirect_uri: str, state: str, code_verifier: str) -> str:
    found = oauth_integration(integration=integration)
    if not found.is_configured():
        raise OAuthLinkError(f"{found.name} is not set up on this server yet. Please contact support.")
    return found.authorization_url(redirect_uri=redirect_uri, state=state, code_verifier=code_verifier)


def oauth_exchange_code(
    *, integration: str, code: str, code_verifier: str, redirect_uri: str
) -> dict[str, Any]:
    """The code (with its PKCE verifier) for tokens, as the account's credentials."""
    found = oauth_integration(integration=integration)
    try:
        tokens = found.exchange_code(code=code, code_verifier=code_verifier, redirect_uri=redirect_uri)
    except ProviderError as exc:
        message = exc.message if exc.message.endswith(".") else exc.message + "."
        raise OAuthLinkError(message, code=exc.code or exc.error_class.value) from None
    return tokens.as_credentials()


def oauth_missing_scopes(*, integration: str, credentials: dict[str, Any]) -> list[str]:
    """The required permissions the grant lacks, in the end user's words."""
    found = oauth_integration(integration=integration)
    missing = found.missing_scopes(TokenSet.from_credentials(credentials).scope)
    if missing:
        found.revoke(tokens=TokenSet.from_credentials(credentials))  # we keep nothing of it
    return [found.scope_label(s) for s in missing]


def oauth_headless_consent(*, integration: str, authorization_url: str) -> dict[str, str]:
    found = oauth_integration(integration=integration)
    if not hasattr(found, "headless_consent"):
        raise OAuthLinkError("Only sandbox integrations can be linked without the consent page.")
    try:
        return found.headless_consent(authorization_url=authorization_url)
    except ProviderError as exc:
        raise OAuthLinkError(exc.message)


def oauth_sandbox_grant(*, integration: str, redirect_uri: str, label: str) -> dict[str, Any]:
    """Credentials of a new grant of a sandbox integration, without a browser: its consent
    answered "Allow" by the sandbox, then a real code exchange with PKCE (`label` names the
    caller in the state and verifier: the demo seed, a benchmark)."""
    verifier = f"{label}-" + "v" * 60
    url = oauth_authorization_url(
        integration=integration, redirect_uri=redirect_uri, state=label, code_verifier=verifier
    )
    answer = oauth_headless_consent(integration=integration, authorization_url=url)
    return oauth_exchange_code(
        integration=integration, code=answer["code"], code_verifier=verifier, redirect_uri=redirect_uri
    )


def oauth_tokens_current(*, account: LinkedAccount) -> TokenSet | None:
    from .oauth_tokens import oauth_tokens_for_account

    return oauth_tokens_for_account(account=account)


def sandbox_oauth_control(*, account: LinkedAccount, action: str, body: dict[str, Any] | None = None) -> dict:
    """A sandbox OAuth server helper for the account's grant (reset-login, expire-access-token,
    remove-permission, grant-expiry). Raises SandboxError when the account has no sandbox grant
    or the sandbox provider cannot be reached."""
    from .sandbox_controls import SandboxError, _sandbox_control

    found = integrations.find(account.integration)
    if not isinstance(found, OAuth2Integration) or not hasattr(found, "headless_consent"):
        raise SandboxError("This linked account does not use a sandbox OAuth integration.")
    tokens = oauth_tokens_current(account=account)
    if tokens is None:
        raise SandboxError("This linked account has no OAuth grant.")
    return _sandbox_control(f"oauth/{action}", {**(body or {}), "token": tokens.access_token})


# Grant ends and keep-alive (the reads and claims `linking`'s expiry warning needs).
from .oauth_grants import (  # noqa: E402, F401
    oauth_grant_claim_expiry_warning,
    oauth_grant_ends,
    oauth_grants_ending,
)
