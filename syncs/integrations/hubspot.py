"""HubSpot CRM contacts (https://developers.hubspot.com/docs/api/crm/contacts), CRM API v3, over
OAuth 2.0.

OAuth facts this module relies on (HubSpot's public developer docs):

- The end user installs the app at ``https://app.hubspot.com/oauth/authorize`` (``client_id``,
  ``redirect_uri``, ``scope``, ``state``; PKCE is accepted), asked for
  ``crm.objects.contacts.read``.
- Tokens come from ``POST https://api.hubapi.com/oauth/2026-03/token``, the date-versioned OAuth
  API (the v1 endpoints are deprecated on 2027-02-16), with the client id and secret in the form
  body. The answer: ``access_token``, ``refresh_token``, ``expires_in`` (1800: access tokens live
  30 minutes; HubSpot says to refresh by ``expires_in``, not on a 401), ``token_type``,
  ``hub_id`` and the granted ``scopes`` as a list.
- Refresh tokens have no documented lifetime; they die when the app is uninstalled or the
  installing user loses access. Whether a refresh rotates them is not documented: the token
  store keeps whichever refresh token comes back and refreshes single-flight either way.
- A dead refresh token answers 400 with RFC 6749's ``{"error": "invalid_grant",
  "error_description"}`` beside HubSpot's own ``{"status": "BAD_REFRESH_TOKEN", "message"}``;
  an answer with only HubSpot's fields (the older shape) is read the same way (``_oauth_hooks``),
  so both are ``Invalid API key`` and RELINK_NEEDED.
- Grants are revoked at ``POST /oauth/2026-03/token/revoke`` (``token``, client credentials).

Data: ``GET /crm/v3/objects/contacts`` (validation and sync) with ``limit`` (at most 100),
``properties`` (the columns to return) and ``after`` (the previous page's
``paging.next.after``). Each result is ``{"id", "properties": {...}, "createdAt", "updatedAt",
"archived"}``; property values are strings (or null), dates ISO 8601. Errors are
``{"status": "error", "message", "correlationId", "category"}``: 401 ``INVALID_AUTHENTICATION``
/ ``EXPIRED_AUTHENTICATION``, 403 ``MISSING_SCOPES``, 429 with ``errorType: RATE_LIMIT`` and a
``policyName`` (``TEN_SECONDLY_ROLLING``, ``SECONDLY``, ``DAILY``). The shared rule classifies
them (a 401 first refreshes once; a 429 is retried, honouring ``Retry-After``, then rate
limited); the issue's details name HubSpot's ``category``.

A deployment sets ``HUBSPOT_CLIENT_ID`` and ``HUBSPOT_CLIENT_SECRET`` and registers
``<PUBLIC_BASE_URL>/link/oauth/callback`` as the app's redirect URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from .base import ErrorClass, ProviderError, ProviderSession, RecordError, parse_datetime
from .oauth import OAuth2Integration
from .paging import cursor_pages

API_ROOT = "https://api.hubapi.com"
CONTACTS_URL = f"{API_ROOT}/crm/v3/objects/contacts"
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
# HubSpot's own token-endpoint statuses, as the OAuth errors they are.
_TOKEN_STATUSES = {
    "BAD_REFRESH_TOKEN": "invalid_grant",
    "BAD_AUTH_CODE": "invalid_grant",
    "BAD_CLIENT_ID": "invalid_client",
    "BAD_CLIENT_SECRET": "invalid_client",
    "BAD_REDIRECT_URI": "invalid_request",
    "BAD_GRANT_TYPE": "unsupported_grant_type",
}


def _text(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def _oauth_error_body(response: httpx.Response) -> httpx.Response:
    """An OAuth error answer (400, 401) of HubSpot's token endpoint without RFC 6749's ``error``
    field gets one (from HubSpot's ``status``), so Authlib raises it as the OAuth error it is
    instead of reading the error as tokens."""
    if response.status_code not in (400, 401):
        return response
    try:
        body = response.json()
    except ValueError:
        return response
    if not isinstance(body, dict) or "error" in body:
        return response
    status = str(body.get("status") or body.get("category") or "invalid_request")
    body["error"] = _TOKEN_STATUSES.get(status, status)
    body["error_description"] = str(body.get("message") or status)
    return httpx.Response(
        response.status_code, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


class HubSpotIntegration(OAuth2Integration):
    slug = "hubspot"
    name = "HubSpot"
    categories = ("crm",)
    color = "#FF7A59"
    common_models = ("crm.Contact",)
    authorize_url = "https://app.hubspot.com/oauth/authorize"
    token_url = f"{API_ROOT}/oauth/2026-03/token"
    revoke_url = f"{API_ROOT}/oauth/2026-03/token/revoke"
    scopes = ("crm.objects.contacts.read",)
    required_scopes = ("crm.objects.contacts.read",)
    scope_labels = {"crm.objects.contacts.read": "read your CRM contacts"}
    client_id_env = "HUBSPOT_CLIENT_ID"
    client_secret_env = "HUBSPOT_CLIENT_SECRET"
    token_endpoint_auth_method = "client_secret_post"

    def oauth_compliance_hooks(self) -> dict[str, Callable[[httpx.Response], httpx.Response]]:
        return {"access_token_response": _oauth_error_body, "refresh_token_response": _oauth_error_body}

    def _page(self, session: ProviderSession, params: dict[str, Any]) -> dict[str, Any]:
        data = session.get_json(CONTACTS_URL, params=params, headers={"Accept": "application/json"})
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise ProviderError(ErrorClass.BAD_RESPONSE, "A HubSpot contact page had no 'results' list.")
        return data

    def validate(self, credentials: dict[str, Any], session: ProviderSession) -> None:
        self._page(session, {"limit": 1})

    def fetch_pages(
        self, credentials: dict[str, Any], session: ProviderSession, model: str
    ) -> Iterator[list[dict[str, Any]]]:
        base = {"limit": PAGE_SIZE, "properties": ",".join(PROPERTIES), "archived": "false"}

        def page(after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            data = self._page(session, base if after is None else {**base, "after": after})
            paging = data.get("paging")
            nxt = paging.get("next") if isinstance(paging, dict) else None
            return data["results"], _text(nxt.get("after")) if isinstance(nxt, dict) else None

        return cursor_pages(page, provider="HubSpot")

    def classify(self, response: httpx.Response) -> ProviderError | None:
        error = super().classify(response)
        if error is not None:
            try:
                body = response.json()
            except ValueError:
                body = None
            category = body.get("category") if isinstance(body, dict) else None
            if isinstance(category, str) and category:
                error.message = f"{error.message} (HubSpot: {category[:60]})"
        return error

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
