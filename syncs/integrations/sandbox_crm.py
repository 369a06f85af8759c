"""The bundled sandbox CRM: the sandbox provider's contacts.

Authorized by OAuth 2.0 through the sandbox provider's authorization server (client
``sandbox_crm``, scope ``contacts:read``; ``SandboxOAuthServer``); the data calls and the
mapping are the sandbox's, unchanged."""

from typing import Any

from .base import RecordError, parse_datetime
from .oauth import OAuth2Integration
from .sandbox import SandboxIntegration
from .sandbox_oauth import SandboxOAuthServer


class _SandboxCrmData(SandboxIntegration):
    """The sandbox CRM's data calls and mapping (what is not about authorizing)."""

    common_models = ("crm.Contact",)
    resource = "contacts"

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


class SandboxCrmIntegration(SandboxOAuthServer, OAuth2Integration, _SandboxCrmData):
    slug = "sandbox_crm"
    name = "Sandbox CRM"
    categories = ("crm",)
    color = "#F97316"
    scopes = ("contacts:read",)
    required_scopes = ("contacts:read",)
    scope_labels = {"contacts:read": "read your CRM contacts"}
