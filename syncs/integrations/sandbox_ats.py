"""The bundled sandbox ATS: the sandbox provider's candidates, with the same API keys as
``sandbox`` (``sk_sandbox_…``, revocable through reset-login)."""

from typing import Any

from .base import RecordError, parse_datetime
from .sandbox import SandboxIntegration

_EMAIL_TYPES = {"personal": "PERSONAL", "work": "WORK"}
_PHONE_TYPES = {"home": "HOME", "work": "WORK", "mobile": "MOBILE", "skype": "SKYPE"}
_URL_TYPES = {"personal": "PERSONAL", "company": "COMPANY", "portfolio": "PORTFOLIO", "blog": "BLOG"}


class SandboxAtsIntegration(SandboxIntegration):
    slug = "sandbox_ats"
    name = "Sandbox ATS"
    categories = ("ats",)
    color = "#10B981"
    common_models = ("ats.Candidate",)
    resource = "candidates"

    def map_record(self, model: str, raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict) or not raw.get("id"):
            raise RecordError("candidate without an id")
        return {
            "remote_id": str(raw["id"]),
            "first_name": raw.get("first_name"),
            "last_name": raw.get("last_name"),
            "company": raw.get("company"),
            "title": raw.get("title"),
            "remote_created_at": parse_datetime(raw.get("created_at")),
            "remote_updated_at": parse_datetime(raw.get("updated_at")),
            "last_interaction_at": parse_datetime(raw.get("last_activity_at")),
            "is_private": raw.get("private"),
            "can_email": raw.get("can_email"),
            "locations": [raw["location"]] if raw.get("location") else [],
            "email_addresses": [
                {"value": e.get("address"), "email_address_type": _EMAIL_TYPES.get(e.get("kind"), "OTHER")}
                for e in raw.get("emails") or []
            ],
            "phone_numbers": [
                {"value": p.get("number"), "phone_number_type": _PHONE_TYPES.get(p.get("kind"), "OTHER")}
                for p in raw.get("phones") or []
            ],
            "urls": [
                {"value": u.get("url"), "url_type": _URL_TYPES.get(u.get("kind"), "OTHER")}
                for u in raw.get("links") or []
            ],
            "tags": [str(t) for t in raw.get("tags") or []],
        }
