"""The bundled sandbox HRIS (syncs/sandbox_provider.py): the template for a real provider.
`sandbox_ats` and `sandbox_crm` are the same provider serving another resource."""

from collections.abc import Iterator
from typing import Any, ClassVar

from django.conf import settings

from .base import CredentialField, Integration, ProviderError, ProviderSession, RecordError, parse_datetime
from .paging import cursor_pages

PAGE_SIZE = 100


class SandboxIntegration(Integration):
    slug = "sandbox"
    name = "Sandbox HRIS"
    categories = ("hris",)
    color = "#0EA5E9"
    internal_service = True  # SANDBOX_PROVIDER_URL is the operator's, loopback by default
    test_only = True
    credential_fields = (
        CredentialField(
            name="api_key",
            label="API key",
            secret=True,
            help_text="Any key that begins with sk_sandbox_ works until it is revoked.",
            placeholder="sk_sandbox_…",
        ),
    )

    resource: ClassVar[str] = "employees"  # GET /v1/<resource>, cursor-paged

    def base_url(self) -> str:
        return settings.SANDBOX_PROVIDER_URL.rstrip("/")

    def _headers(self, credentials: dict[str, Any], session: ProviderSession) -> dict[str, str]:
        # X-Sandbox-Tenant: the sandbox keeps each organization's revocations and outages apart.
        return {
            "Authorization": f"Bearer {credentials.get('api_key', '')}",
            "Accept": "application/json",
            "X-Sandbox-Tenant": session.tenant,
        }

    def validate(self, credentials: dict[str, Any], session: ProviderSession) -> None:
        data = session.get_json(f"{self.base_url()}/v1/me", headers=self._headers(credentials, session))
        if not isinstance(data, dict) or "company" not in data:
            raise ProviderError("bad_response", "The provider's answer did not name a company.")

    def fetch_pages(
        self, credentials: dict[str, Any], session: ProviderSession, model: str
    ) -> Iterator[list[dict[str, Any]]]:
        def page(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
            data = session.get_json(
                f"{self.base_url()}/v1/{self.resource}",
                params={"cursor": cursor or "0", "limit": PAGE_SIZE},
                headers=self._headers(credentials, session),
            )
            if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                raise ProviderError("bad_response", "The provider's page had no 'data' list.")
            nxt = data.get("next_cursor")
            return data["data"], str(nxt) if nxt not in (None, "") else None

        return cursor_pages(page, provider="The provider")

    def map_record(self, model: str, raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict) or not raw.get("id"):
            raise RecordError("employee without an id")
        first, last = raw.get("first_name") or "", raw.get("last_name") or ""
        status = str(raw.get("status") or "").lower()
        return {
            "remote_id": str(raw["id"]),
            "employee_number": raw.get("employee_number"),
            "first_name": first,
            "last_name": last,
            "display_full_name": f"{first} {last}".strip(),
            "work_email": raw.get("email"),
            "personal_email": raw.get("personal_email"),
            "mobile_phone_number": raw.get("phone"),
            "employment_status": {"active": "ACTIVE", "pending": "PENDING", "terminated": "INACTIVE"}.get(
                status
            ),
            "start_date": parse_datetime(raw.get("hire_date")),
            "termination_date": parse_datetime(raw.get("termination_date")),
            "remote_created_at": parse_datetime(raw.get("created_at")),
            "ssn": raw.get("ssn"),
            "date_of_birth": parse_datetime(raw.get("date_of_birth")),
        }
