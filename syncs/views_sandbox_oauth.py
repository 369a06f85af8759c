"""The sandbox OAuth server's test-mode helpers (test API keys only), one view per operation, and
the OAuth side of reset-login and provider-outage (syncs/views.py hands OAuth accounts here):
each acts on the account's grant through the sandbox provider's control endpoint."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from . import sandbox_controls, services_oauth
from .views import SandboxAccountView


def sandbox_oauth_answer(account, action: str, body: dict | None = None, *, answer: Any = None) -> Response:
    """Run the helper on the account's grant: 200 with `answer` (default: the provider's);
    400 for an account without a sandbox grant, 503 when the provider cannot be reached."""
    try:
        result = services_oauth.sandbox_oauth_control(account=account, action=action, body=body)
    except sandbox_controls.SandboxError as exc:
        status = 400 if "does not use" in str(exc) or "no OAuth grant" in str(exc) else 503
        return Response({"detail": str(exc)}, status=status)
    return Response(result if answer is None else answer)


def reset_login_oauth(account) -> Response:
    """reset-login for an OAuth account: the grant is revoked."""
    return sandbox_oauth_answer(account, "revoke-grant")


def provider_outage_oauth(account, mode: str) -> Response:
    """provider-outage for an OAuth account: the grant's data calls act out `mode` (its refreshed
    tokens too) until the mode is ``none``."""
    return sandbox_oauth_answer(account, "outage", {"mode": mode}, answer={"mode": mode})


def _helper_view(
    name: str, *, action: str, description: str, body: type[serializers.Serializer] | None = None
) -> type[SandboxAccountView]:
    """The view of one helper: its body (if any) validated, then the helper on the grant."""

    class HelperView(SandboxAccountView):
        @extend_schema(
            operation_id=f"sandbox_{action.replace('-', '_')}",
            request=body,
            responses={200: OpenApiResponse(description=description)},
        )
        def post(self, request):
            data = None
            if body is not None:
                serializer = body(data=request.data)
                serializer.is_valid(raise_exception=True)
                data = dict(serializer.validated_data)
            return sandbox_oauth_answer(self.linked_account, action, data)

    HelperView.__name__ = HelperView.__qualname__ = name
    return HelperView


class ScopeSerializer(serializers.Serializer):
    scope = serializers.CharField(max_length=100)


class DaysSerializer(serializers.Serializer):
    days = serializers.FloatField(min_value=0, max_value=3650)


ExpireAccessTokenView = _helper_view(
    "ExpireAccessTokenView",
    action="expire-access-token",
    description="The current access token no longer works",
)
RemovePermissionView = _helper_view(
    "RemovePermissionView",
    action="remove-permission",
    description="Data calls needing the scope answer 403",
    body=ScopeSerializer,
)
GrantExpiryView = _helper_view(
    "GrantExpiryView",
    action="grant-expiry",
    description="The grant ends that many days from now",
    body=DaysSerializer,
)
