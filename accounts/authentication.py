"""API-key authentication (kept apart from the views: DRF imports it while loading its settings)."""

import uuid
from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

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
        key = api_key_authenticate(raw_key=parts[1])
        if key is None:
            raise HeaderError("Authorization", "Invalid API key in the Authorization header.")
        return ApiClient(organization=key.organization, environment=key.environment, api_key_id=key.id), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasApiKey(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, ApiClient)
