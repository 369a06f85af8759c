"""The shape every integration has, and the one HTTP path every provider call takes.

Adding a provider
-----------------
Copy ``sandbox.py`` to ``<slug>.py`` and change it:

1. Subclass :class:`Integration`; set ``slug``, ``name``, ``categories``, ``image``/``color``
   and ``credential_fields`` (what the link page asks the end user for; ``secret=True`` fields
   are encrypted at rest, masked in forms and scrubbed from request-log URLs).
2. ``validate(credentials, session)``: ONE cheap authenticated request; return normally when
   the credentials work. Errors are raised for you by the session (see 4).
3. ``fetch_pages(credentials, session, model)``: yield lists of raw provider records, one list
   per page, for each common model in ``common_models`` (``"hris.Employee"``, ``"ats.Candidate"``,
   ``"crm.Contact"``: docs/common-models.md), and ``map_record(model, raw)``: one raw record ->
   a dict of that model's fields with a non-empty ``remote_id`` (raise :class:`RecordError` for a record that cannot be mapped;
   the run then ends PARTIALLY_SYNCED without that record).
4. Make every request with ``session.request(...)`` / ``session.get_json(...)``. The session
   uses the shared client of ``outbound.http`` (connect/read timeouts, a wall-clock deadline
   per request, a streamed body-size cap, a redirect limit, the address policy on every hop),
   retries 429 honouring ``Retry-After``, logs every attempt (URL with secrets stripped) and raises
   :class:`ProviderError` through ``classify(response)``: 401 -> credentials rejected,
   403 -> missing permissions, 429 -> rate limited, 5xx / timeout / refused -> provider
   offline, anything unparseable (HTML login page, malformed JSON, too big, redirect loop)
   -> bad response. Override ``classify`` only for a provider that signals errors
   differently (e.g. a 200 with ``{"error": "invalid_token"}``), and call ``super()``.
5. Register the class in ``syncs/integrations/__init__.py`` (``INTEGRATIONS``) and test it at
   the httpx boundary with ``respx`` using response shapes from the provider's docs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import orjson
from django.conf import settings

from outbound import http as outbound_http


class ErrorClass(StrEnum):
    """Why a provider call failed. Transient ones may heal by themselves; permanent ones need a
    person (new credentials, new permissions, a fixed provider)."""

    CREDENTIALS_REJECTED = "credentials_rejected"  # 401
    MISSING_PERMISSIONS = "missing_permissions"  # 403
    RATE_LIMITED = "rate_limited"  # 429 after retries
    PROVIDER_OFFLINE = "provider_offline"  # 5xx, timeout, refused connection
    BAD_RESPONSE = "bad_response"  # unparseable, HTML, too big, redirect loop, unexpected status
    TIME_LIMIT = "time_limit"  # the run hit its time limit
    LEASE_EXPIRED = "lease_expired"  # the worker running it vanished
    INTERNAL_ERROR = "internal_error"  # a bug on our side

    @property
    def is_transient(self) -> bool:
        return self in (ErrorClass.RATE_LIMITED, ErrorClass.PROVIDER_OFFLINE, ErrorClass.TIME_LIMIT)


class ProviderError(Exception):
    def __init__(
        self, error_class: ErrorClass | str, message: str, status_code: int | None = None, code: str = ""
    ):
        super().__init__(message)
        self.error_class = ErrorClass(error_class)
        self.message = message
        self.status_code = status_code
        self.code = code  # the provider's own error code when it names one (OAuth's "invalid_grant")

    def __str__(self) -> str:
        code = f" (HTTP {self.status_code})" if self.status_code else ""
        return f"{self.error_class}: {self.message}{code}"


class AuthType(StrEnum):
    """How an integration's end user authorizes Relink (the link page follows it)."""

    API_KEY = "API_KEY"  # a form of secret fields
    BASIC = "BASIC"  # a form with a user name and a password
    OAUTH2 = "OAUTH2"  # "Continue with …": authorization code + PKCE, see oauth.py


class RecordError(Exception):
    """One provider record that cannot be mapped to a common model."""


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    secret: bool = True
    help_text: str = ""
    placeholder: str = ""


@dataclass
class LoggedRequest:
    """One outbound attempt, kept in memory and bulk-written as a RequestLog row."""

    method: str
    url: str  # secrets stripped
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error_class: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error_class)


# Query parameters whose values are never logged, whatever the provider.
_SECRET_PARAM = re.compile(r"(key|token|secret|password|passwd|signature|sig|auth|code|session)", re.I)


def redact_url(url: str, secrets: list[str] = ()) -> str:  # type: ignore[assignment]
    """The URL as it may be stored: no userinfo, no secret-looking query values, and no
    occurrence of any of the given credential values anywhere (paths included)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = urlencode(
        [
            (k, "***" if _SECRET_PARAM.search(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    clean = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    for secret in secrets:
        if secret and len(secret) >= 4:
            clean = clean.replace(secret, "***")
    return clean[:2000]


def provider_profile(*, internal: bool = False) -> outbound_http.Profile:
    """How provider calls use outbound HTTP: timeouts, up to 5 redirects (each hop checked
    against the address policy), loopback only where settings allow it or for an internal
    service whose URL the operator configures (the bundled sandbox)."""
    timeout = settings.SYNC_HTTP_TIMEOUT_SECONDS
    return outbound_http.Profile(
        name="providers",
        connect_timeout=min(timeout, 5.0),
        read_timeout=timeout,
        follow_redirects=True,
        max_redirects=5,
        allow_loopback=settings.OUTBOUND_ALLOW_LOOPBACK or internal,
        user_agent="Relink-Sync/1.0",
        max_connections=100,
        max_keepalive_connections=20,
    )


def classify_response(response: httpx.Response) -> ProviderError | None:
    """The shared rule: what a provider's HTTP status means for the linked account."""
    code = response.status_code
    if code < 300:
        return None
    if code == 401:
        return ProviderError(ErrorClass.CREDENTIALS_REJECTED, "The provider rejected the credentials.", code)
    if code == 403:
        return ProviderError(
            ErrorClass.MISSING_PERMISSIONS, "The credentials lack a permission this sync needs.", code
        )
    if code == 429:
        return ProviderError(ErrorClass.RATE_LIMITED, "The provider kept rate-limiting the requests.", code)
    if code >= 500:
        return ProviderError(ErrorClass.PROVIDER_OFFLINE, "The provider answered with a server error.", code)
    return ProviderError(ErrorClass.BAD_RESPONSE, "The provider answered with an unexpected status.", code)


class ProviderSession:
    """All HTTP of one validation or one sync run: every attempt is logged, classified and
    bounded (timeouts, wall-clock deadline, body-size cap, retries for 429)."""

    def __init__(self, *, integration: Integration, credentials: dict[str, Any], tenant: str = ""):
        self.integration = integration
        # The organization the calls are made for (the sandbox keys its state by it).
        self.tenant = tenant
        self.secrets = [str(credentials.get(f.name) or "") for f in integration.credential_fields if f.secret]
        self.log: list[LoggedRequest] = []
        self.profile = provider_profile(internal=integration.internal_service)
        self.client = outbound_http.client(self.profile)

    # --- the one request path -------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        retries = settings.SYNC_RATE_LIMIT_RETRIES
        for attempt in range(retries + 1):
            response, error = self._send_once(
                method, url, params=params, headers=headers, auth=auth, json_body=json_body
            )
            if error is None:
                return response
            if error.error_class == ErrorClass.RATE_LIMITED and attempt < retries:
                time.sleep(self._retry_after(response))
                continue
            raise error
        raise AssertionError("unreachable")

    def get_json(self, url: str, **kwargs: Any) -> Any:
        response = self.request("GET", url, **kwargs)
        return parse_json(response)

    # --- internals --------------------------------------------------------------------------
    def _retry_after(self, response: httpx.Response) -> float:
        wait = outbound_http.parse_retry_after(response.headers.get("Retry-After"))
        return min(1.0 if wait is None else wait, settings.SYNC_RATE_LIMIT_MAX_WAIT_SECONDS)

    def _record(
        self, method: str, url: str, started: float, started_at: datetime, **kw: Any
    ) -> LoggedRequest:
        entry = LoggedRequest(
            method=method,
            url=redact_url(url, self.secrets),
            started_at=started_at,
            duration_ms=int((time.monotonic() - started) * 1000),
            **kw,
        )
        self.log.append(entry)
        return entry

    def _send_once(
        self, method, url, *, params, headers, auth, json_body
    ) -> tuple[httpx.Response, ProviderError | None]:
        max_bytes = settings.SYNC_MAX_RESPONSE_BYTES
        deadline_s = settings.SYNC_REQUEST_DEADLINE_SECONDS
        started_at = datetime.now(UTC)
        started = time.monotonic()
        try:
            request = self.client.build_request(
                method, url, params=params, headers=headers, json=json_body, timeout=self.profile.timeout()
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            self._record(method, url, started, started_at, error_class=ErrorClass.BAD_RESPONSE)
            raise ProviderError(ErrorClass.BAD_RESPONSE, f"Invalid provider URL: {type(exc).__name__}")
        logged_url = str(request.url)
        response: httpx.Response | None = None
        try:
            response = self.client.send(request, auth=auth, stream=True)
            read = outbound_http.read_capped(response, limit=max_bytes, deadline=started + deadline_s)
            if read.over_limit:
                raise _TooBig()
            if read.past_deadline:
                raise httpx.ReadTimeout("deadline")
            body = read.content
            logged_url = str(response.url)
        except _TooBig:
            self._record(
                method,
                logged_url,
                started,
                started_at,
                status_code=response.status_code if response else None,
                error_class=ErrorClass.BAD_RESPONSE,
            )
            raise ProviderError(
                ErrorClass.BAD_RESPONSE, f"The provider's response was larger than {max_bytes} bytes."
            )
        except outbound_http.BlockedAddress:
            self._record(method, logged_url, started, started_at, error_class=ErrorClass.BAD_RESPONSE)
            raise ProviderError(
                ErrorClass.BAD_RESPONSE,
                "The provider's address, or an address it redirected to, is not a public address.",
            )
        except httpx.TooManyRedirects:
            self._record(method, logged_url, started, started_at, error_class=ErrorClass.BAD_RESPONSE)
            raise ProviderError(ErrorClass.BAD_RESPONSE, "The provider redirected too many times (a loop).")
        except httpx.TimeoutException:
            self._record(method, logged_url, started, started_at, error_class=ErrorClass.PROVIDER_OFFLINE)
            raise ProviderError(ErrorClass.PROVIDER_OFFLINE, "The provider did not answer in time.")
        except httpx.DecodingError:
            self._record(method, logged_url, started, started_at, error_class=ErrorClass.BAD_RESPONSE)
            raise ProviderError(ErrorClass.BAD_RESPONSE, "The provider's response could not be decoded.")
        except httpx.TransportError as exc:
            self._record(method, logged_url, started, started_at, error_class=ErrorClass.PROVIDER_OFFLINE)
            raise ProviderError(
                ErrorClass.PROVIDER_OFFLINE, f"Could not reach the provider ({type(exc).__name__})."
            )
        finally:
            if response is not None:
                response.close()
        # A fresh, fully read response for the integration (the body is already decoded).
        kept_headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        full = httpx.Response(
            response.status_code, headers=kept_headers, content=body, request=response.request
        )
        error = self.integration.classify(full)
        self._record(
            method,
            logged_url,
            started,
            started_at,
            status_code=full.status_code,
            error_class=error.error_class if error else "",
        )
        return full, error


class _TooBig(Exception):
    pass


def parse_json(response: httpx.Response) -> Any:
    """JSON or a BAD_RESPONSE: a 200 with an HTML login page is not data. orjson first (a
    page's parse was a tenth of a repeat sync's CPU with the stdlib)."""
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type.lower() or response.content.lstrip()[:1] == b"<":
        raise ProviderError(
            ErrorClass.BAD_RESPONSE,
            "The provider answered with an HTML page instead of data (a login or error page?).",
            response.status_code,
        )
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        pass  # what orjson refuses and the stdlib reads (NaN, integers past 64 bits), or bad JSON
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise ProviderError(
            ErrorClass.BAD_RESPONSE, "The provider answered with malformed JSON.", response.status_code
        )


def parse_datetime(value: Any) -> datetime | None:
    """A provider's ISO 8601 date or timestamp as an aware datetime (a bare date: that day, UTC);
    RecordError when it is not one."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"bad timestamp {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Integration:
    """One provider. Class attributes describe it; methods talk to it through a session."""

    slug: ClassVar[str]
    name: ClassVar[str]
    categories: ClassVar[tuple[str, ...]] = ("hris",)
    image: ClassVar[str] = ""
    square_image: ClassVar[str] = ""
    color: ClassVar[str] = "#4F46E5"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    auth_type: ClassVar[AuthType] = AuthType.API_KEY
    common_models: ClassVar[tuple[str, ...]] = ("hris.Employee",)
    # True only for a service whose URL the operator configures (the bundled sandbox): it may
    # be on loopback in production. A provider's own hosts always pass the address policy.
    internal_service: ClassVar[bool] = False
    # A sandbox (fake data): offered to test link tokens only; a production link refuses it.
    test_only: ClassVar[bool] = False

    # --- what each provider implements ------------------------------------------------------
    def validate(self, credentials: dict[str, Any], session: ProviderSession) -> None:
        raise NotImplementedError

    def fetch_pages(
        self, credentials: dict[str, Any], session: ProviderSession, model: str
    ) -> Iterator[list[dict[str, Any]]]:
        raise NotImplementedError

    def map_record(self, model: str, raw: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    # --- shared behaviour -------------------------------------------------------------------
    def classify(self, response: httpx.Response) -> ProviderError | None:
        return classify_response(response)

    def missing_credentials(self, credentials: dict[str, Any]) -> list[str]:
        return [f.name for f in self.credential_fields if not str(credentials.get(f.name) or "").strip()]

    def session(
        self, credentials: dict[str, Any], account: Any = None, *, tenant: str = ""
    ) -> ProviderSession:
        """The session of one validation or sync run. `account` (the linked account, when there
        is one) lets an OAuth session refresh and store the account's tokens; `tenant`: the
        organization's id, for providers whose state is per organization (the sandbox)."""
        return ProviderSession(integration=self, credentials=credentials, tenant=tenant)


@dataclass
class FetchResult:
    """Everything one sync run fetched for one common model (records already mapped)."""

    model: str
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
