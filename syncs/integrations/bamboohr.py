"""BambooHR (https://documentation.bamboohr.com), through its API gateway.

What a customer has: the company subdomain (``acme`` for https://acme.bamboohr.com) and an API
key made under their BambooHR user (name menu -> API Keys). The key is the HTTP Basic user name;
the password is ignored by BambooHR, so any filler works.

Endpoint used for both validation and sync: ``GET {gateway}/{subdomain}/v1/employees``, the
cursor-paged employee list (``page[limit]`` up to 100, ``page[after]`` = the previous page's
``meta.page.nextCursor``; ``_links.next`` carries the same cursor). Every record has
``employeeId`` (a string), ``firstName``, ``lastName``, ``preferredName``, ``jobTitleName`` and
``status`` ("Active"/"Inactive"); more columns come with ``fields=...``. A field the key's user
may not read comes back null and is named in ``_restrictedFields``.

Provider quirks handled here:
- BambooHR throttles with ``503`` plus ``Retry-After`` (429 is rare): that 503 is a rate limit
  (retried after the wait), a 503 without ``Retry-After`` is an outage.
- An unknown company subdomain answers ``404``: for us that is a credential the end user must fix.
- Empty dates can come back as ``0000-00-00``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from .base import CredentialField, ErrorClass, Integration, ProviderError, ProviderSession, RecordError
from .enums import ETHNICITY, GENDER, MARITAL_STATUS, enum_value
from .paging import cursor_pages
from .values import parse_day, text_or_none

API_ROOT = "https://api.bamboohr.com/api/gateway.php"
PAGE_SIZE = 100
# Columns asked for on top of the defaults (names as the employee list endpoint spells them).
EXTRA_FIELDS = (
    "displayName",
    "employeeNumber",
    "workEmail",
    "homeEmail",
    "mobilePhone",
    "hireDate",
    "terminationDate",
    "gender",
    "maritalStatus",
    "ethnicity",
    "dateOfBirth",
    "ssn",
    "photoUrl",
)
_SUBDOMAIN = re.compile(r"\A[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")


def company_subdomain(raw: Any) -> str:
    """The subdomain alone, also when the end user pasted their BambooHR address.
    Anything else is refused before a URL is built from it."""
    value = str(raw or "").strip().lower()
    value = re.sub(r"^https?://", "", value)
    host = value.split("/", 1)[0]
    if host.endswith(".bamboohr.com"):  # a pasted address; its path does not matter
        value = host[: -len(".bamboohr.com")]
    if not _SUBDOMAIN.match(value):
        raise ProviderError(
            ErrorClass.CREDENTIALS_REJECTED,
            "The company subdomain may only hold letters, digits and dashes (e.g. 'acme').",
        )
    return value


def parse_date(value: Any) -> datetime | None:
    """A BambooHR date (YYYY-MM-DD) as midnight UTC; empty and 0000-00-00 mean unknown."""
    if str(value or "").strip().startswith("0000-00-00"):
        return None
    return parse_day(value)


class BambooHRIntegration(Integration):
    slug = "bamboohr"
    name = "BambooHR"
    categories = ("hris",)
    color = "#73C41D"
    credential_fields = (
        CredentialField(
            name="company_domain",
            label="Company subdomain",
            secret=False,
            help_text="The first part of your BambooHR address: 'acme' for https://acme.bamboohr.com.",
            placeholder="acme",
        ),
        CredentialField(
            name="api_key",
            label="API key",
            secret=True,
            help_text="In BambooHR, open the menu under your name, choose API Keys and add a new key.",
            placeholder="Your BambooHR API key",
        ),
    )

    api_root = API_ROOT

    # --- requests ---------------------------------------------------------------------------
    def base_url(self, credentials: dict[str, Any]) -> str:
        return f"{self.api_root}/{company_subdomain(credentials.get('company_domain'))}/v1"

    def _get(self, credentials: dict[str, Any], session: ProviderSession, params: dict[str, Any]) -> Any:
        url = f"{self.base_url(credentials)}/employees"
        return session.get_json(
            url,
            params=params,
            headers={"Accept": "application/json"},
            auth=(str(credentials.get("api_key") or "").strip(), "x"),
        )

    def validate(self, credentials: dict[str, Any], session: ProviderSession) -> None:
        data = self._get(credentials, session, {"page[limit]": 1})
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ProviderError(ErrorClass.BAD_RESPONSE, "BambooHR's employee list had no 'data' list.")

    def fetch_pages(
        self, credentials: dict[str, Any], session: ProviderSession, model: str
    ) -> Iterator[list[dict[str, Any]]]:
        def page(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
            params: dict[str, Any] = {"page[limit]": PAGE_SIZE, "fields": ",".join(EXTRA_FIELDS)}
            if cursor is not None:
                params["page[after]"] = cursor
            data = self._get(credentials, session, params)
            if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                raise ProviderError(ErrorClass.BAD_RESPONSE, "A BambooHR page had no 'data' list.")
            return data["data"], self._next_cursor(data)

        return cursor_pages(page, provider="BambooHR")

    @staticmethod
    def _next_cursor(data: dict[str, Any]) -> str | None:
        meta = data.get("meta")
        page = meta.get("page") if isinstance(meta, dict) else None
        if isinstance(page, dict) and page.get("nextCursor") not in (None, ""):
            return str(page["nextCursor"])
        links = data.get("_links")
        nxt = links.get("next") if isinstance(links, dict) else None
        if isinstance(nxt, dict):  # HAL style {"href": ...}
            nxt = nxt.get("href")
        if isinstance(nxt, str) and nxt:
            after = parse_qs(urlsplit(nxt).query).get("page[after]")
            if after and after[0]:
                return after[0]
        return None

    # --- errors -----------------------------------------------------------------------------
    def classify(self, response: httpx.Response) -> ProviderError | None:
        code = response.status_code
        if code == 503 and response.headers.get("Retry-After"):
            return ProviderError(ErrorClass.RATE_LIMITED, "BambooHR kept throttling the requests.", code)
        if code == 404:
            return ProviderError(
                ErrorClass.CREDENTIALS_REJECTED, "BambooHR knows no company with this subdomain.", code
            )
        return super().classify(response)

    # --- mapping ----------------------------------------------------------------------------
    def map_record(self, model: str, raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict) or text_or_none(raw.get("employeeId") or raw.get("id")) is None:
            raise RecordError("employee without an employeeId")
        remote_id = text_or_none(raw.get("employeeId") or raw.get("id"))
        first = text_or_none(raw.get("firstName")) or ""
        last = text_or_none(raw.get("lastName")) or ""
        preferred = text_or_none(raw.get("preferredName"))
        display = text_or_none(raw.get("displayName")) or f"{preferred or first} {last}".strip()
        start = parse_date(raw.get("hireDate"))
        termination = parse_date(raw.get("terminationDate"))
        return {
            "remote_id": remote_id,
            "employee_number": text_or_none(raw.get("employeeNumber")),
            "first_name": first,
            "last_name": last,
            "display_full_name": display,
            "work_email": text_or_none(raw.get("workEmail")),
            "personal_email": text_or_none(raw.get("homeEmail")),
            "mobile_phone_number": text_or_none(raw.get("mobilePhone")),
            "employment_status": self._employment_status(raw.get("status"), start),
            "start_date": start,
            "termination_date": termination,
            "remote_created_at": None,  # the employee list does not say when a record was made
            "preferred_name": preferred,
            # BambooHR's one hire date is both: the most recent hire, and when work began.
            "hire_date": start,
            "gender": enum_value(GENDER, raw.get("gender")),
            "marital_status": enum_value(MARITAL_STATUS, raw.get("maritalStatus")),
            "ethnicity": enum_value(ETHNICITY, raw.get("ethnicity")),
            "date_of_birth": parse_date(raw.get("dateOfBirth")),
            "ssn": text_or_none(raw.get("ssn")),  # null when the key's user may not read it
            "avatar": text_or_none(raw.get("photoUrl")),
        }

    @staticmethod
    def _employment_status(status: Any, start: datetime | None) -> str | None:
        value = str(status or "").strip().lower()
        if value == "inactive":
            return "INACTIVE"
        if value == "active":
            # Hired but not started yet: Merge calls that PENDING.
            if start is not None and start > datetime.now(UTC):
                return "PENDING"
            return "ACTIVE"
        return None
