"""The bundled sandbox CRM: the sandbox provider's contacts.

OAuth 2.0 is its contract (scope ``contacts:read``, through the sandbox provider's
authorization server). Until the OAuth framework is in (``syncs/integrations/oauth.py``), it
signs data calls with a sandbox API key like ``sandbox``. Switching it over: make the class
``SandboxCrmIntegration(OAuth2Integration, _SandboxCrm)`` with ``scopes = required_scopes =
("contacts:read",)``, the sandbox's ``endpoints()`` and ``client_credentials()`` (as
``sandbox_oauth`` has them); the data calls and the mapping below stay as they are."""

from typing import Any

from .base import RecordError, parse_datetime
from .sandbox import SandboxIntegration


class SandboxCrmIntegration(SandboxIntegration):
    slug = "sandbox_crm"
    name = "Sandbox CRM"
    categories = ("crm",)
    color = "#F97316"
    common_models = ("crm.Contact",)
    resource = "contacts"
    # The OAuth declaration it switches to (see the module docstring).
    oauth_scopes = ("contacts:read",)

    def map_record(self, model: str, raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict) or not raw.get("id"):
            raise RecordError("contact without an id")
        phones = [("phone", "work"), ("mobile", "mobile")]
        address = raw.get("address") if isinstance(raw.get("address"), dict) else None
        return {
            "remote_id": str(raw["id"]),
            "first_name": raw.get("first_name"),
            "last_name": raw.get("last_name"),
            "email_addresses": [{"email_address": raw["email"], "email_address_type": "work"}]
            if raw.get("email")
            else [],
            "phone_numbers": [
                {"phone_number": raw[key], "phone_number_type": kind} for key, kind in phones if raw.get(key)
            ],
            "addresses": [
                {
                    "street_1": address.get("street"),
                    "street_2": None,
                    "city": address.get("city"),
                    "state": address.get("state") or None,
                    "postal_code": address.get("zip"),
                    "country": address.get("country"),
                    "address_type": None,
                }
            ]
            if address
            else [],
            "last_activity_at": parse_datetime(raw.get("last_activity_at")),
            "remote_created_at": parse_datetime(raw.get("created_at")),
        }
