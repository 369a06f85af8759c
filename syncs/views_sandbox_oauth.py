"""The sandbox OAuth server's test-mode helpers (test API keys only), one view per operation."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.api import ACCOUNT_TOKEN_PARAMETER

from . import sandbox_controls, services_oauth
from .views import SandboxAccountView


def _answer(account, action: str, body: dict | None = None) -> Response:
    try:
        result = services_oauth.sandbox_oauth_control(account=account, action=action, body=body)
    except sandbox_controls.SandboxError as exc:
        status = 400 if "does not use" in str(exc) or "no OAuth grant" in str(exc) else 503
        return Response({"detail": str(exc)}, status=status)
    return Response(result)


class ExpireAccessTokenView(SandboxAccountView):
    @extend_schema(
        operation_id="sandbox_expire_access_token",
        parameters=[ACCOUNT_TOKEN_PARAMETER],
        request=None,
        responses={200: OpenApiResponse(description="The current access token no longer works")},
    )
    def post(self, request):
        return _answer(self.linked_account, "expire-access-token")


class ScopeSerializer(serializers.Serializer):
    scope = serializers.CharField(max_length=100)


class RemovePermissionView(SandboxAccountView):
    @extend_schema(
        operation_id="sandbox_remove_permission",
        parameters=[ACCOUNT_TOKEN_PARAMETER],
        request=ScopeSerializer,
        responses={200: OpenApiResponse(description="Data calls needing the scope answer 403")},
    )
    def post(self, request):
        serializer = ScopeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _answer(
            self.linked_account, "remove-permission", {"scope": serializer.validated_data["scope"]}
        )


class DaysSerializer(serializers.Serializer):
    days = serializers.FloatField(min_value=0, max_value=3650)


class GrantExpiryView(SandboxAccountView):
    @extend_schema(
        operation_id="sandbox_grant_expiry",
        parameters=[ACCOUNT_TOKEN_PARAMETER],
        request=DaysSerializer,
        responses={200: OpenApiResponse(description="The grant ends that many days from now")},
    )
    def post(self, request):
        serializer = DaysSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _answer(self.linked_account, "grant-expiry", {"days": serializer.validated_data["days"]})


def reset_login_oauth(account) -> Response:
    """reset-login for an OAuth account: the grant is revoked."""
    return _answer(account, "revoke-grant")
