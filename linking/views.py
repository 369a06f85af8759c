"""The link API: link tokens, the public-token exchange, and the sandbox shortcut that finishes a
link as if the end user had submitted the page. Views only translate; the rules live in
services."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from accounts import catalog
from accounts.api import OrganizationView
from accounts.login_throttle import client_ip
from accounts.models import AccountType
from accounts.selectors import linked_account_token

from .attempt_limits import link_attempt_record
from .finish import LinkProblem, PublicTokenProblem, link_finish, public_token_exchange
from .link_tokens import link_token_create
from .oauth import oauth_link_headless
from .serializers import (
    AccountTokenSerializer,
    LinkTokenRequestSerializer,
    LinkTokenSerializer,
    PublicTokenRequestSerializer,
    PublicTokenSerializer,
)


def _base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class LinkTokenView(OrganizationView):
    @extend_schema(
        operation_id="link_token_create",
        request=LinkTokenRequestSerializer,
        responses={200: LinkTokenSerializer, 400: OpenApiResponse(description="Invalid field")},
    )
    def post(self, request, category):
        serializer = LinkTokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            created = link_token_create(
                organization=self.client.organization,
                account_type=self.client.environment,
                category=category,
                categories=data["categories"],
                end_user_origin_id=data["end_user_origin_id"],
                end_user_organization_name=data["end_user_organization_name"],
                end_user_email_address=data["end_user_email_address"],
                integration=data.get("integration") or "",
                link_expiry_mins=data.get("link_expiry_mins"),
                should_create_magic_link_url=bool(data.get("should_create_magic_link_url")),
                language=data.get("language") or "",
                base_url=_base_url(request),
            )
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        # 200, as Merge answers; integration_name and magic_link_url are strings when there is
        # one (an integration chosen up front, a magic link asked for) and absent otherwise.
        body = {"link_token": created.raw_token}
        if created.integration_name:
            body["integration_name"] = created.integration_name
        if created.magic_link_url:
            body["magic_link_url"] = created.magic_link_url
        return Response(body, status=status.HTTP_200_OK)


class AccountTokenView(OrganizationView):
    @extend_schema(
        operation_id="account_token_retrieve",
        responses={
            200: AccountTokenSerializer,
            404: OpenApiResponse(description="Unknown public token"),
            410: OpenApiResponse(description="Public token already exchanged or expired"),
        },
    )
    def get(self, request, category, public_token):
        try:
            account = public_token_exchange(
                public_token=public_token,
                organization=self.client.organization,
                account_type=self.client.environment,
            )
        except PublicTokenProblem as exc:
            code = status.HTTP_404_NOT_FOUND if exc.code == "unknown" else status.HTTP_410_GONE
            return Response({"detail": exc.message}, status=code)
        info = catalog.get(account.integration).as_api()
        info.pop("passthrough_available", None)
        return Response(
            {
                "account_token": linked_account_token(account=account),
                "integration": info,
                "id": str(account.id),
            }
        )


def _link_problem_response(exc: LinkProblem) -> Response:
    """A 400 naming the field at fault: the link token when it is unknown, used or expired."""
    field = "link_token" if exc.code in ("unknown", "used", "expired") else exc.code
    return Response({field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)


class SandboxPublicTokenView(OrganizationView):
    """Finish a link flow without the page (test keys only), through the same `link_finish`."""

    @extend_schema(
        operation_id="sandbox_public_token_create",
        request=PublicTokenRequestSerializer,
        responses={
            201: PublicTokenSerializer,
            400: OpenApiResponse(description="Bad link token, integration or credentials"),
            403: OpenApiResponse(description="Production API key"),
            429: OpenApiResponse(description="Too many credential checks for this link token or address"),
        },
    )
    def post(self, request):
        if self.client.environment != AccountType.TEST:
            raise PermissionDenied("Sandbox endpoints accept only test API keys.")
        serializer = PublicTokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        lock = link_attempt_record(raw_token=data["link_token"], ip=client_ip(request))
        if lock is not None:
            return Response(
                {"detail": lock.message},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(lock.retry_after)},
            )
        oauth = catalog.get(data["integration"]).auth_type == "OAUTH2"
        if oauth and data["credentials"]:
            message = "OAuth integrations take no credentials here: send {} (the sandbox allows)."
            return Response({"credentials": [message]}, status=status.HTTP_400_BAD_REQUEST)
        link = {
            "integration": data["integration"],
            "organization": self.client.organization,
            "account_type": AccountType.TEST,
        }
        try:
            if oauth:
                # The real consent round trip, answered "Allow" by the sandbox provider.
                outcome = oauth_link_headless(raw_link_token=data["link_token"], **link)
                finished, message = outcome.finished, outcome.message
            else:
                finished = link_finish(link_token=data["link_token"], credentials=data["credentials"], **link)
                message = finished.message
        except LinkProblem as exc:
            return _link_problem_response(exc)
        if finished is None or not finished.ok:
            body = {"credentials": [message]}
            if finished is not None:
                body["error_description"] = finished.error_description
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response({"public_token": finished.public_token}, status=status.HTTP_201_CREATED)
