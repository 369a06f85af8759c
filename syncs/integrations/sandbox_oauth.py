"""The bundled sandbox HRIS behind OAuth 2.0 (the sandbox provider's authorization server,
syncs/sandbox_oauth.py): the template for an OAuth provider. Same employees as ``sandbox``.

`SandboxOAuthServer` is what any integration of the sandbox authorization server shares (its
endpoints move with SANDBOX_PROVIDER_URL, it is a public client named by its slug, and test keys
may answer its consent page headlessly): ``sandbox_crm`` mixes it in the same way, with its own
slug and scope (the server accepts client ``sandbox_crm`` with ``contacts:read``)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from django.conf import settings

from .base import ErrorClass, ProviderError
from .oauth import OAuth2Integration
from .sandbox import SandboxIntegration


class SandboxOAuthServer:
    """Mix in before OAuth2Integration."""

    slug: str
    token_endpoint_auth_method = "none"  # a public client: PKCE instead of a secret
    idle_expiry_days = 60  # grants the sandbox forgets when unused (keep-alive refreshes them)

    def endpoints(self) -> dict[str, str]:
        base = settings.SANDBOX_PROVIDER_URL.rstrip("/")
        return {
            "authorize": f"{base}/oauth/authorize",
            "token": f"{base}/oauth/token",
            "revoke": f"{base}/oauth/revoke",
        }

    def client_credentials(self) -> tuple[str, str]:
        return self.slug, ""

    def headless_consent(self, *, authorization_url: str) -> dict[str, str]:
        """Answer the consent page as if the end user pressed "Allow" with every scope (test keys
        only: the sandbox public-token endpoint, the demo seed). Returns the redirect's query."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
        form = {**query, "decision": "allow", "scope": query.get("scope", "").split()}
        try:
            response = httpx.post(self.endpoints()["authorize"], data=form, timeout=10.0)
        except httpx.HTTPError as exc:
            raise ProviderError(
                ErrorClass.PROVIDER_OFFLINE, f"The sandbox provider is not reachable ({type(exc).__name__})."
            )
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not location:
            raise ProviderError(ErrorClass.BAD_RESPONSE, "The sandbox consent page did not redirect back.")
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class SandboxOAuthIntegration(SandboxOAuthServer, OAuth2Integration, SandboxIntegration):
    slug = "sandbox_oauth"
    name = "Sandbox HRIS (OAuth)"
    categories = ("hris",)
    color = "#0284C7"
    scopes = ("employees:read",)
    required_scopes = ("employees:read",)
    scope_labels = {"employees:read": "read your employee directory"}
