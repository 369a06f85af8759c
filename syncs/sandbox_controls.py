"""The sandbox provider's controls (test keys only): revoke a key, or put it in an outage, over the
sandbox's control endpoint, for the dashboard's fault buttons and the demo."""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings


class SandboxError(Exception):
    pass


def _sandbox_control(action: str, body: dict[str, Any]) -> dict[str, Any]:
    url = f"{settings.SANDBOX_PROVIDER_URL.rstrip('/')}/control/{action}"
    try:
        response = httpx.post(
            url, json=body, headers={"X-Sandbox-Control": settings.SANDBOX_CONTROL_TOKEN}, timeout=5.0
        )
    except httpx.HTTPError as exc:
        raise SandboxError(f"The sandbox provider is not reachable ({type(exc).__name__}).")
    if response.status_code != 200:
        raise SandboxError(
            f"The sandbox provider refused the {action} control (HTTP {response.status_code})."
        )
    return response.json()


def sandbox_revoke_key(*, api_key: str, tenant: str) -> None:
    """Revoke the key in organization `tenant`'s space only (its id; the sandbox integration
    sends it with every call): another organization's account with the same key string is
    untouched."""
    _sandbox_control("revoke", {"api_key": api_key, "tenant": tenant})


def sandbox_set_outage(*, api_key: str, mode: str, tenant: str) -> None:
    _sandbox_control("outage", {"api_key": api_key, "mode": mode, "tenant": tenant})
