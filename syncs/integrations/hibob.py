"""HiBob ("Bob", https://apidocs.hibob.com), People API.

What a customer has: an API service user (Bob > System settings > Integrations > Automation >
Service users), i.e. a service user ID and a token, sent as HTTP Basic user name and password.
The service user sees only the field categories its permission group grants.

Endpoint used for both validation and sync: ``POST /v1/people/search``. It is a bulk read with
no paging: one call returns every matching employee in one ``employees`` array (only active
ones unless ``showInactive`` is true). A sync reads all IDs first, then the fields in batches
with a ``root.id`` ``equals`` filter (Bob's advice for large companies). The body names field IDs in dot notation
(``root.id``, ``work.startDate``); the answer carries them as nested category objects
(``{"work": {"startDate": ...}}``) and/or in slash notation (``{"/work/startDate": {"value":
...}}``), so both are read. Machine format gives list fields as list-item IDs and dates as ISO;
``humanReadable: "APPEND"`` adds a ``humanReadable`` node with display values beside them.
Fields the service user may not read are silently left out (200 OK).

Rate limits: People search allows about 50 requests a minute; a 429 comes with
``X-RateLimit-Reset`` (Unix time of the window's reset), which the wait honours when there is no
``Retry-After``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings

from .base import (
    AuthType,
    CredentialField,
    ErrorClass,
    Integration,
    ProviderError,
    ProviderSession,
    RecordError,
    parse_json,
)
from .enums import GENDER, enum_value
from .values import parse_day, text_or_none

API_ROOT = "https://api.hibob.com/v1"
BATCH_SIZE = 500  # employees per filtered search
SEARCH_FIELDS = (
    "root.id",
    "root.firstName",
    "root.surname",
    "root.displayName",
    "root.email",
    "root.creationDate",
    "work.employeeIdInCompany",
    "work.startDate",
    "home.privateEmail",
    "home.mobilePhone",
    "internal.status",
    "internal.lifecycleStatus",
    "internal.terminationDate",
    "root.avatarUrl",
    "personal.gender",
)
_MISSING = object()


class HiBobSession(ProviderSession):
    def _retry_after(self, response: httpx.Response) -> float:
        if response.headers.get("Retry-After") or not response.headers.get("X-RateLimit-Reset"):
            return super()._retry_after(response)
        try:
            wait = float(response.headers["X-RateLimit-Reset"]) - time.time()
        except ValueError:
            wait = 1.0
        return max(0.0, min(wait, settings.SYNC_RATE_LIMIT_MAX_WAIT_SECONDS))


def field_value(raw: dict[str, Any], field_id: str) -> Any:
    """One field of a search result, whichever of Bob's two shapes carries it."""
    category, _, name = field_id.partition(".")
    if category == "root":
        value = raw.get(name, _MISSING)
    else:
        group = raw.get(category)
        value = group.get(name, _MISSING) if isinstance(group, dict) else _MISSING
    if value is _MISSING:
        slashed = raw.get(f"/{category}/{name}")
        value = slashed.get("value") if isinstance(slashed, dict) else slashed
    return value


def label_value(raw: dict[str, Any], field_id: str) -> Any:
    """The display value when ``humanReadable`` was appended (list fields), else the machine one."""
    human = raw.get("humanReadable")
    if isinstance(human, dict):
        value = field_value(human, field_id)
        if value is not None:
            return value
    return field_value(raw, field_id)


def _text(value: Any) -> str | None:
    """Trimmed text; a nested object or list is not a text value."""
    return None if isinstance(value, dict | list) else text_or_none(value)


class HiBobIntegration(Integration):
    slug = "hibob"
    name = "HiBob"
    categories = ("hris",)
    color = "#E5336B"
    auth_type = AuthType.BASIC
    credential_fields = (
        CredentialField(
            name="service_user_id",
            label="Service user ID",
            secret=False,
            help_text="In Bob: System settings > Integrations > Automation > Service users. "
            "Give the service user's permission group read access to employee data.",
            placeholder="SERVICE-1234",
        ),
        CredentialField(
            name="token",
            label="Service user token",
            secret=True,
            help_text="Shown once, when the service user is created.",
            placeholder="Your service user token",
        ),
    )

    api_root = API_ROOT

    def session(
        self, credentials: dict[str, Any], account: Any = None, *, tenant: str = ""
    ) -> ProviderSession:
        return HiBobSession(integration=self, credentials=credentials, tenant=tenant)

    def _search(self, credentials: dict[str, Any], session: ProviderSession, body: dict[str, Any]) -> Any:
        response = session.request(
            "POST",
            f"{self.api_root}/people/search",
            headers={"Accept": "application/json"},
            auth=(
                str(credentials.get("service_user_id") or "").strip(),
                str(credentials.get("token") or "").strip(),
            ),
            json_body=body,
        )
        data = parse_json(response)
        if not isinstance(data, dict) or not isinstance(data.get("employees"), list):
            raise ProviderError(ErrorClass.BAD_RESPONSE, "Bob's people search had no 'employees' list.")
        return data

    def validate(self, credentials: dict[str, Any], session: ProviderSession) -> None:
        # The smallest real read that also proves the names are readable.
        data = self._search(
            credentials, session, {"fields": ["root.id", "root.firstName"], "showInactive": False}
        )
        self._require_names(data["employees"])

    @staticmethod
    def _require_names(employees: list[Any]) -> None:
        """Bob answers 200 and silently leaves out fields the service user may not read; a
        company whose employees all come back nameless means a missing permission, not data."""
        if not employees:
            return
        for raw in employees:
            if isinstance(raw, dict) and field_value(raw, "root.firstName") is not None:
                return
        raise ProviderError(
            ErrorClass.MISSING_PERMISSIONS,
            "Bob left out every employee's name: the service user cannot read Basic info.",
        )

    def fetch_pages(
        self, credentials: dict[str, Any], session: ProviderSession, model: str
    ) -> Iterator[list[dict[str, Any]]]:
        # Bob has no paging, and one full answer for a large company outgrows any sane body cap.
        # So: every ID first (a small answer), then the fields in batches filtered by root.id,
        # the batching Bob's read contract recommends for large companies.
        listing = self._search(credentials, session, {"fields": ["root.id"], "showInactive": True})
        ids = list(dict.fromkeys(_text(field_value(raw, "root.id")) for raw in listing["employees"]))
        ids = [i for i in ids if i]
        for start in range(0, len(ids), BATCH_SIZE):
            batch = ids[start : start + BATCH_SIZE]
            data = self._search(
                credentials,
                session,
                {
                    "fields": list(SEARCH_FIELDS),
                    "filters": [{"fieldPath": "root.id", "operator": "equals", "values": batch}],
                    "showInactive": True,
                    "humanReadable": "APPEND",
                },
            )
            if start == 0:
                self._require_names(data["employees"])
            yield data["employees"]

    def map_record(self, model: str, raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise RecordError("employee is not an object")
        remote_id = _text(field_value(raw, "root.id"))
        if remote_id is None:
            raise RecordError("employee without an id")
        first = _text(field_value(raw, "root.firstName")) or ""
        last = _text(field_value(raw, "root.surname")) or ""
        display = _text(field_value(raw, "root.displayName")) or f"{first} {last}".strip()
        start = parse_day(field_value(raw, "work.startDate"))
        return {
            "remote_id": remote_id,
            "employee_number": _text(field_value(raw, "work.employeeIdInCompany")),
            "first_name": first,
            "last_name": last,
            "display_full_name": display,
            "work_email": _text(field_value(raw, "root.email")),
            "personal_email": _text(field_value(raw, "home.privateEmail")),
            "mobile_phone_number": _text(field_value(raw, "home.mobilePhone")),
            "employment_status": self._employment_status(raw, start),
            "start_date": start,
            "termination_date": parse_day(field_value(raw, "internal.terminationDate")),
            "remote_created_at": parse_day(field_value(raw, "root.creationDate")),
            "avatar": _text(field_value(raw, "root.avatarUrl")),
            "gender": enum_value(GENDER, label_value(raw, "personal.gender")),
        }

    @staticmethod
    def _employment_status(raw: dict[str, Any], start: datetime | None) -> str | None:
        lifecycle = str(label_value(raw, "internal.lifecycleStatus") or "").strip().lower()
        status = str(label_value(raw, "internal.status") or "").strip().lower()
        if lifecycle == "hired" or (status == "active" and start is not None and start > datetime.now(UTC)):
            return "PENDING"  # signed, not started yet
        if status == "inactive" or lifecycle == "terminated":
            return "INACTIVE"
        if status == "active":
            return "ACTIVE"
        return None
