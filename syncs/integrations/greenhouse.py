"""Greenhouse Recruiting, through its Harvest API (https://developers.greenhouse.io/harvest.html).

What a customer has: a Harvest API key (Configure > Dev Center > API Credential Management),
made by a user allowed to manage the organization's API credentials, with the Candidates
endpoints ticked. The key is the HTTP Basic user name; the password is blank.

Endpoint used for both validation and sync: ``GET https://harvest.greenhouse.io/v1/candidates``
(``per_page`` up to 500). Paging follows the ``Link`` response header's ``rel="next"`` URL
until there is none; only a next URL on Harvest's own host is followed (the Basic credentials
go with every request). A candidate has an integer ``id``, ``first_name``, ``last_name``,
``company``, ``title``, ``created_at``, ``updated_at``, ``last_activity``, ``is_private``,
``can_email``, ``tags`` (strings) and lists of ``{value, type}`` objects:
``email_addresses`` (personal/work/other), ``phone_numbers`` (home/work/mobile/skype/other),
``website_addresses`` (personal/company/portfolio/blog/other), ``social_media_addresses``
(``{value}`` only) and ``addresses`` (read as the candidate's locations).

Errors come as ``{"message": "..."}``: 401 for a bad key ("Invalid Basic Auth credentials"),
403 when the key may not use the candidates endpoint, 429 with ``Retry-After`` (the rate-limit
window is short) and ``X-RateLimit-Remaining``; the shared rule classifies them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from .base import (
    CredentialField,
    ErrorClass,
    Integration,
    ProviderError,
    ProviderSession,
    RecordError,
    parse_datetime,
    parse_json,
)
from .values import text_or_none

API_ROOT = "https://harvest.greenhouse.io/v1"
PAGE_SIZE = 500
MAX_PAGES = 10_000  # a Link header that never ends is a paging loop

_EMAIL_TYPES = {"personal": "PERSONAL", "work": "WORK", "other": "OTHER"}
_PHONE_TYPES = {"home": "HOME", "work": "WORK", "mobile": "MOBILE", "skype": "SKYPE", "other": "OTHER"}
_URL_TYPES = {"personal": "PERSONAL", "company": "COMPANY", "portfolio": "PORTFOLIO", "blog": "BLOG"}


def _typed(items: Any, type_name: str, types: dict[str, str], default: str | None = "OTHER") -> list[dict]:
    """Harvest's ``[{value, type}]`` as Merge's ``[{value, <type_name>}]``."""
    if not isinstance(items, list):
        return []
    return [
        {
            "value": text_or_none(item.get("value")),
            type_name: types.get(str(item.get("type") or "").lower(), default),
        }
        for item in items
        if isinstance(item, dict) and text_or_none(item.get("value"))
    ]


class GreenhouseIntegration(Integration):
    slug = "greenhouse"
    name = "Greenhouse"
    categories = ("ats",)
    color = "#24A47F"
    common_models = ("ats.Candidate",)
    credential_fields = (
        CredentialField(
            name="api_key",
            label="Harvest API key",
            secret=True,
            help_text="In Greenhouse, open Configure > Dev Center > API Credential Management, create a "
            "Harvest key and allow it the Candidates endpoints.",
            placeholder="Your Harvest API key",
        ),
    )

    api_root = API_ROOT

    def _get(self, credentials: dict[str, Any], session: ProviderSession, url: str, params=None):
        response = session.request(
            "GET",
            url,
            params=params,
            headers={"Accept": "application/json"},
            auth=(str(credentials.get("api_key") or "").strip(), ""),
        )
        return response, parse_json(response)

    def validate(self, credentials: dict[str, Any], session: ProviderSession) -> None:
        _, data = self._get(credentials, session, f"{self.api_root}/candidates", {"per_page": 1})
        if not isinstance(data, list):
            raise ProviderError(ErrorClass.BAD_RESPONSE, "Greenhouse's candidate list was not a list.")

    def fetch_pages(
        self, credentials: dict[str, Any], session: ProviderSession, model: str
    ) -> Iterator[list[dict[str, Any]]]:
        url: str | None = f"{self.api_root}/candidates"
        params: dict[str, Any] | None = {"per_page": PAGE_SIZE}
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= MAX_PAGES:
                raise ProviderError(ErrorClass.BAD_RESPONSE, "Greenhouse repeated a page (a paging loop).")
            seen.add(url)
            response, data = self._get(credentials, session, url, params)
            if not isinstance(data, list):
                raise ProviderError(
                    ErrorClass.BAD_RESPONSE, "A Greenhouse page was not a list of candidates."
                )
            yield data
            url, params = self._next_url(response.links.get("next", {}).get("url")), None

    def _next_url(self, url: str | None) -> str | None:
        if not url:
            return None
        ours = urlsplit(self.api_root)
        theirs = urlsplit(url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise ProviderError(
                ErrorClass.BAD_RESPONSE, "Greenhouse's next page pointed to another host; not followed."
            )
        return url

    def map_record(self, model: str, raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict) or text_or_none(raw.get("id")) is None:
            raise RecordError("candidate without an id")
        urls = _typed(raw.get("website_addresses"), "url_type", _URL_TYPES)
        urls += _typed(
            [
                {**item, "type": "social"}
                for item in raw.get("social_media_addresses") or []
                if isinstance(item, dict)
            ],
            "url_type",
            {"social": "SOCIAL_MEDIA"},
        )
        addresses = raw.get("addresses") if isinstance(raw.get("addresses"), list) else []
        tags = raw.get("tags") if isinstance(raw.get("tags"), list) else []
        return {
            "remote_id": text_or_none(raw["id"]),
            "first_name": text_or_none(raw.get("first_name")),
            "last_name": text_or_none(raw.get("last_name")),
            "company": text_or_none(raw.get("company")),
            "title": text_or_none(raw.get("title")),
            "remote_created_at": parse_datetime(raw.get("created_at")),
            "remote_updated_at": parse_datetime(raw.get("updated_at")),
            "last_interaction_at": parse_datetime(raw.get("last_activity")),
            "is_private": raw.get("is_private") if isinstance(raw.get("is_private"), bool) else None,
            "can_email": raw.get("can_email") if isinstance(raw.get("can_email"), bool) else None,
            "locations": [
                a["value"] for a in addresses if isinstance(a, dict) and text_or_none(a.get("value"))
            ],
            "email_addresses": _typed(raw.get("email_addresses"), "email_address_type", _EMAIL_TYPES),
            "phone_numbers": _typed(raw.get("phone_numbers"), "phone_number_type", _PHONE_TYPES),
            "urls": urls,
            "tags": [str(t) for t in tags if t is not None],
        }
