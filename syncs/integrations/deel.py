"""Deel (global HR/EOR) over OAuth 2.0.

Facts this module relies on (Deel's public developer docs): the OAuth server is at
``https://app.deel.com/oauth2/authorize`` and ``/oauth2/tokens`` (client credentials as HTTP
Basic); access tokens last 30 days; refresh tokens are single use ("token rotation"): reusing
one answers ``invalid_grant`` and may revoke the whole grant, so refreshes must be single-flight;
refresh tokens live 90 days (no lifetime field in the token answer), so the keep-alive job
refreshes grants unused for 45 days. Data: ``GET https://api.letsdeel.com/rest/v2/people``
(scope ``people:read``) with ``limit``/``offset``, answering ``{"data": [...], "page": {...}}``.

A deployment sets ``DEEL_CLIENT_ID`` and ``DEEL_CLIENT_SECRET`` (``DEEL_OAUTH_BASE`` /
``DEEL_API_BASE`` for Deel's demo hosts) and registers ``<PUBLIC_BASE_URL>/link/oauth/callback``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings

from .base import ErrorClass, ProviderError, ProviderSession, RecordError, parse_datetime
from .oauth import OAuth2Integration
from .values import pages_until_short

LIMIT = 100
MAX_PAGES = 2000
STATUS = {
    "active": "ACTIVE",
    "onboarding": "PENDING",
    "offboarding": "ACTIVE",
    "terminated": "INACTIVE",
    "inactive": "INACTIVE",
}


def oauth_base() -> str:
    return settings.DEEL_OAUTH_BASE.rstrip("/")


def api_base() -> str:
    return settings.DEEL_API_BASE.rstrip("/")


class DeelIntegration(OAuth2Integration):
    slug = "deel"
    name = "Deel"
    categories = ("hris",)
    color = "#15357A"
    client_id_env = "DEEL_CLIENT_ID"
    client_secret_env = "DEEL_CLIENT_SECRET"
    token_endpoint_auth_method = "client_secret_basic"
    scopes = ("people:read",)
    required_scopes = ("people:read",)
    scope_labels = {"people:read": "read your people directory"}
    idle_expiry_days = 90

    def endpoints(self) -> dict[str, str]:
        base = oauth_base()
        return {"authorize": f"{base}/oauth2/authorize", "token": f"{base}/oauth2/tokens", "revoke": ""}

    def _page(self, session: ProviderSession, offset: int, limit: int) -> list[dict[str, Any]]:
        data = session.get_json(
            f"{api_base()}/people",
            params={"limit": limit, "offset": offset},
            headers={"Accept": "application/json"},
        )
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ProviderError(ErrorClass.BAD_RESPONSE, "Deel's people page had no 'data' list.")
        return data["data"]

    def validate(self, credentials: dict[str, Any], session: ProviderSession) -> None:
        self._page(session, 0, 1)

    def fetch_pages(
        self, credentials: dict[str, Any], session: ProviderSession, model: str
    ) -> Iterator[list[dict[str, Any]]]:
        yield from pages_until_short(
            lambda number: self._page(session, number * LIMIT, LIMIT),
            size=LIMIT,
            max_pages=MAX_PAGES,
            loop_message="Deel kept sending people pages (a paging loop?).",
        )

    def map_record(self, model: str, raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict) or not raw.get("id"):
            raise RecordError("person without an id")
        emails = {
            str(e.get("type") or "").lower(): e.get("value")
            for e in raw.get("emails") or []
            if isinstance(e, dict)
        }
        first, last = raw.get("first_name") or "", raw.get("last_name") or ""
        return {
            "remote_id": str(raw["id"]),
            "employee_number": raw.get("worker_id"),
            "first_name": first,
            "last_name": last,
            "display_full_name": raw.get("full_name") or f"{first} {last}".strip(),
            "work_email": emails.get("work") or raw.get("email"),
            "personal_email": emails.get("personal"),
            "mobile_phone_number": None,
            "employment_status": STATUS.get(str(raw.get("hiring_status") or "").lower()),
            "start_date": parse_datetime(raw.get("start_date")),
            "termination_date": parse_datetime(raw.get("termination_date")),
            "remote_created_at": parse_datetime(raw.get("created_at")),
        }
