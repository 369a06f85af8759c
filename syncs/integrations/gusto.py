"""Gusto (US payroll/HRIS) over OAuth 2.0.

Facts this module relies on (Gusto's public API reference): authorization code grant at
``/oauth/authorize`` and ``/oauth/token`` (client id and secret in the form body); access
tokens last 2 hours (``expires_in`` 7200); refresh tokens are single use and the previous one is
revoked once the new access token is used, so a refresh must never run twice (the token store
makes it single-flight); no refresh-token lifetime is documented. ``GET /v1/token_info`` names
the company the token is for; ``GET /v1/companies/{uuid}/employees?page=&per=`` lists its
employees as a JSON array.

A deployment sets ``GUSTO_CLIENT_ID`` and ``GUSTO_CLIENT_SECRET`` (``GUSTO_API_BASE`` =
``https://api.gusto-demo.com`` for Gusto's demo environment) and registers
``<PUBLIC_BASE_URL>/link/oauth/callback`` as the app's redirect URI.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings

from .base import ErrorClass, ProviderError, ProviderSession, RecordError, parse_datetime
from .oauth import OAuth2Integration
from .values import pages_until_short

PER_PAGE = 100
MAX_PAGES = 2000


def api_base() -> str:
    return settings.GUSTO_API_BASE.rstrip("/")


class GustoIntegration(OAuth2Integration):
    slug = "gusto"
    name = "Gusto"
    categories = ("hris",)
    color = "#F45D48"
    client_id_env = "GUSTO_CLIENT_ID"
    client_secret_env = "GUSTO_CLIENT_SECRET"
    token_endpoint_auth_method = "client_secret_post"
    # Gusto's scopes are set on the app, not asked for in the authorization request.
    scopes = ()
    required_scopes = ()

    def endpoints(self) -> dict[str, str]:
        base = api_base()
        return {"authorize": f"{base}/oauth/authorize", "token": f"{base}/oauth/token", "revoke": ""}

    def _company(self, session: ProviderSession) -> str:
        data = session.get_json(f"{api_base()}/v1/token_info", headers={"Accept": "application/json"})
        resource = data.get("resource") if isinstance(data, dict) else None
        uuid = resource.get("uuid") if isinstance(resource, dict) else None
        if not uuid:
            raise ProviderError(ErrorClass.BAD_RESPONSE, "Gusto's token info named no company.")
        return str(uuid)

    def validate(self, credentials: dict[str, Any], session: ProviderSession) -> None:
        self._company(session)

    def fetch_pages(
        self, credentials: dict[str, Any], session: ProviderSession, model: str
    ) -> Iterator[list[dict[str, Any]]]:
        company = self._company(session)

        def employees(number: int) -> list[dict[str, Any]]:
            rows = session.get_json(
                f"{api_base()}/v1/companies/{company}/employees",
                params={"page": number + 1, "per": PER_PAGE},  # Gusto's pages count from 1
                headers={"Accept": "application/json"},
            )
            if not isinstance(rows, list):
                raise ProviderError(ErrorClass.BAD_RESPONSE, "Gusto's employee page was not a list.")
            return rows

        yield from pages_until_short(
            employees,
            size=PER_PAGE,
            max_pages=MAX_PAGES,
            loop_message="Gusto kept sending employee pages (a paging loop?).",
        )

    def map_record(self, model: str, raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict) or not raw.get("uuid"):
            raise RecordError("employee without a uuid")
        first, last = raw.get("first_name") or "", raw.get("last_name") or ""
        jobs = [j for j in raw.get("jobs") or [] if isinstance(j, dict)]
        primary = next((j for j in jobs if j.get("primary")), jobs[0] if jobs else {})
        terminations = [t for t in raw.get("terminations") or [] if isinstance(t, dict)]
        if raw.get("terminated"):
            status = "INACTIVE"
        elif raw.get("onboarded") is False:
            status = "PENDING"
        else:
            status = "ACTIVE"
        return {
            "remote_id": str(raw["uuid"]),
            "employee_number": None,
            "first_name": first,
            "last_name": last,
            "display_full_name": f"{raw.get('preferred_first_name') or first} {last}".strip(),
            "work_email": raw.get("work_email"),
            "personal_email": raw.get("email"),
            "mobile_phone_number": raw.get("phone"),
            "employment_status": status,
            "start_date": parse_datetime(primary.get("hire_date")),
            "termination_date": parse_datetime(terminations[-1].get("effective_date"))
            if terminations
            else None,
            "remote_created_at": None,
        }
