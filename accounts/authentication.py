"""API-key authentication (kept apart from the views: DRF imports it while loading its settings)."""

import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from .crypto import constant_time_equals, token_hash
from .log_context import log_context_bind
from .models import Organization
from .selectors import api_key_authenticate


@dataclass
class ApiClient:
    """`request.user` for API calls: the organization and environment of the API key."""

    organization: Organization
    environment: str
    api_key_id: uuid.UUID

    is_authenticated = True
    is_anonymous = False


class HeaderError(exceptions.AuthenticationFailed):
    def __init__(self, header: str, detail: str):
        super().__init__(detail)
        self.header = header


@dataclass(frozen=True)
class _KnownKey:
    key_hash: str
    api_key_id: uuid.UUID
    organization_id: uuid.UUID
    environment: str
    expires: float  # time.monotonic()


class _KeyCache:
    """Valid API keys seen in the last API_KEY_CACHE_SECONDS, by keyed hash (never the raw key):
    the key lookup was the largest part of a small API read. Only what identifies the caller is
    kept; a revoked key stops working once its entry expires (every process asks the database
    again then). Unknown keys are never cached, so guessing still costs a query per try."""

    max_entries = 10_000

    def __init__(self):
        self.entries: dict[str, _KnownKey] = {}
        self.lock = threading.Lock()

    def get(self, digest: str) -> _KnownKey | None:
        entry = self.entries.get(digest)
        if entry is None or entry.expires <= time.monotonic():
            return None
        # The dict found it by hash equality; compare in constant time as the database path does.
        return entry if constant_time_equals(entry.key_hash, digest) else None

    def put(self, digest: str, entry: _KnownKey) -> None:
        with self.lock:
            if len(self.entries) >= self.max_entries:
                now = time.monotonic()
                self.entries = {d: e for d, e in self.entries.items() if e.expires > now}
                if len(self.entries) >= self.max_entries:
                    self.entries.clear()
            self.entries[digest] = entry

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


key_cache = _KeyCache()


def _organization_ref(pk: uuid.UUID) -> Organization:
    """The organization with only its id loaded (as `.only("id")` makes it): filters by it cost
    nothing, and any other field is read from the database when first used, so it is never stale."""
    return Organization.from_db("default", ["id"], [pk])


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            raise HeaderError(
                "Authorization", "Missing Authorization header: send 'Authorization: Bearer <API key>'."
            )
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise HeaderError("Authorization", "Malformed Authorization header: expected 'Bearer <API key>'.")
        ttl = settings.API_KEY_CACHE_SECONDS
        if ttl > 0:
            digest = token_hash(parts[1])
            known = key_cache.get(digest)
            if known is not None:
                log_context_bind(organization_id=known.organization_id)
                client = ApiClient(
                    organization=_organization_ref(known.organization_id),
                    environment=known.environment,
                    api_key_id=known.api_key_id,
                )
                return client, None
        key = api_key_authenticate(raw_key=parts[1])
        if key is None:
            raise HeaderError("Authorization", "Invalid API key in the Authorization header.")
        if ttl > 0:
            key_cache.put(
                key.key_hash,
                _KnownKey(
                    key_hash=key.key_hash,
                    api_key_id=key.id,
                    organization_id=key.organization_id,
                    environment=key.environment,
                    expires=time.monotonic() + ttl,
                ),
            )
        log_context_bind(organization_id=key.organization_id)
        # request.user says who calls; request.auth stays None (the same from the cache or not).
        return ApiClient(organization=key.organization, environment=key.environment, api_key_id=key.id), None

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasApiKey(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, ApiClient)
