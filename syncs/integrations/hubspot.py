"""HubSpot CRM contacts (https://developers.hubspot.com/docs/api/crm/contacts), CRM API v3.

Authorization: OAuth 2.0 (authorization code; ``https://app.hubspot.com/oauth/authorize``,
tokens from ``https://api.hubapi.com/oauth/v1/token``, scope ``crm.objects.contacts.read``;
access tokens live 30 minutes, refresh tokens until the app is uninstalled). The OAuth facts are
declared below (``OAUTH``) for the OAuth framework; until an account links through it, the
integration takes the Bearer token of a HubSpot private app (Settings > Integrations > Private
Apps, with the same scope), which signs data calls exactly as an OAuth access token does.

Endpoint used for both validation and sync: ``GET /crm/v3/objects/contacts`` with ``limit`` (at
most 100), ``properties`` (the columns to return) and ``after`` (the previous page's
``paging.next.after``). Each result is ``{"id", "properties": {...}, "createdAt", "updatedAt",
"archived"}``; property values are strings (or null), dates ISO 8601.

Errors are ``{"status": "error", "message", "correlationId", "category"}``: 401
``INVALID_AUTHENTICATION`` / ``EXPIRED_AUTHENTICATION``, 403 ``MISSING_SCOPES``, 429 with
``errorType: RATE_LIMIT`` and a ``policyName`` (``TEN_SECONDLY_ROLLING``, ``SECONDLY``,
``DAILY``); the shared rule classifies them (a 429 is retried, honouring ``Retry-After``, then
rate limited).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .base import (
    CredentialField,
    ErrorClass,
    Integration,
    ProviderError,
    ProviderSession,
    RecordError,
    parse_datetime,
)

API_ROOT = "https://api.hubapi.com"
PAGE_SIZE = 100
PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "hs_additional_emails",
    "phone",
    "mobilephone",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "createdate",
    "notes_last_updated",
)
# What the OAuth framework needs to run HubSpot's authorization-code flow.
OAUTH = {
    "authorize_url": "https://app.hubspot.com/oauth/authorize",
    "token_url": f"{API_ROOT}/oauth/v1/token",
    "scopes": ("crm.objects.contacts.read",),
    "client_id_env": "HUBSPOT_CLIENT_ID",
    "client_secret_env": "HUBSPOT_CLIENT_SECRET",
    "token_endpoint_auth_method": "client_secret_post",
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class HubSpotIntegration(Integration):
    slug = "hubspot"
    name = "HubSpot"
    categories = ("crm",)
    color = "#FF7A59"
    common_models = ("crm.Contact",)
    credential_fields = (
        CredentialField(
            name="access_token",
            label="Private app access token",
            secret=True,
            help_text="In HubSpot, open Settings > Integrations > Private Apps, create an app with the "
            "crm.objects.contacts.read scope and copy its access token.",
            placeholder="pat-…",
        ),
    )

    api_root = API_ROOT

    def _get(self, credentials: dict[str, Any], session: ProviderSession, params: dict[str, Any]) -> Any:
        # An OAuth session replaces the Authorization header with its current access token.
        token = str(credentials.get("access_token") or "").strip()
        return session.get_json(
            f"{self.api_root}/crm/v3/objects/contacts",
            params=params,
            headers={"Accept": "application/json", "Authorization": f"Bearer {token}"},
        )

    def validate(self, credentials: dict[str, Any], session: ProviderSession) -> None:
        data = self._get(credentials, session, {"limit": 1})
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise ProviderError(ErrorClass.BAD_RESPONSE, "HubSpot's contact list had no 'results' list.")

    def fetch_pages(
        self, credentials: dict[str, Any], session: ProviderSession, model: str
    ) -> Iterator[list[dict[str, Any]]]:
        after: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {
                "limit": PAGE_SIZE,
                "properties": ",".join(PROPERTIES),
                "archived": "false",
            }
            if after is not None:
                params["after"] = after
            data = self._get(credentials, session, params)
            if not isinstance(data, dict) or not isinstance(data.get("results"), list):
                raise ProviderError(ErrorClass.BAD_RESPONSE, "A HubSpot page had no 'results' list.")
            yield data["results"]
            paging = data.get("paging")
            nxt = paging.get("next") if isinstance(paging, dict) else None
            after = _text(nxt.get("after")) if isinstance(nxt, dict) else None
            if after is None:
                return
            if after in seen:
                raise ProviderError(
                    ErrorClass.BAD_RESPONSE, "HubSpot repeated a page cursor (a paging loop)."
                )
            seen.add(after)

    # --- mapping ----------------------------------------------------------------------------
    def map_record(self, model: str, raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict) or _text(raw.get("id")) is None:
            raise RecordError("contact without an id")
        props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
        emails = [_text(props.get("email"))]
        emails += [_text(e) for e in str(props.get("hs_additional_emails") or "").split(";")]
        phones = [(props.get("phone"), "work"), (props.get("mobilephone"), "mobile")]
        address = {
            "street_1": _text(props.get("address")),
            "street_2": None,
            "city": _text(props.get("city")),
            "state": _text(props.get("state")),
            "postal_code": _text(props.get("zip")),
            "country": _text(props.get("country")),
            "address_type": None,
        }
        return {
            "remote_id": _text(raw["id"]),
            "first_name": _text(props.get("firstname")),
            "last_name": _text(props.get("lastname")),
            "email_addresses": [
                {"email_address": email, "email_address_type": "work" if i == 0 else "other"}
                for i, email in enumerate(emails)
                if email
            ],
            "phone_numbers": [
                {"phone_number": _text(number), "phone_number_type": kind}
                for number, kind in phones
                if _text(number)
            ],
            "addresses": [address] if any(v for k, v in address.items() if k != "address_type") else [],
            "last_activity_at": parse_datetime(props.get("notes_last_updated")),
            "remote_created_at": parse_datetime(props.get("createdate") or raw.get("createdAt")),
        }
