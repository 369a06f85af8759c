"""Shared REST machinery for every app: API-key and account-token authentication, errors,
query-parameter validation and keyset cursor pagination (Merge's list envelope)."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .authentication import ApiClient, HeaderError
from .log_context import log_context_bind
from .models import LinkedAccount
from .paging import BadCursor, keyset_page
from .query_params import QueryParams, query_validate
from .selectors import linked_account_for_token
from .services import linked_account_record_inbound_use


class ApiKeyAuthScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Organization API key"}


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, HeaderError):
        response.data = {"detail": str(exc.detail), "header": exc.header}
    return response


ACCOUNT_TOKEN_PARAMETER = OpenApiParameter(
    name="X-Account-Token",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description="Token identifying the end user's linked account.",
)


class AccountSchema(AutoSchema):
    """The OpenAPI of a per-account endpoint: the X-Account-Token header before its own parameters."""

    def get_override_parameters(self):
        return [ACCOUNT_TOKEN_PARAMETER, *super().get_override_parameters()]


class OrganizationView(APIView):
    """Organization-level endpoint: API key only (an X-Account-Token header is ignored)."""

    @property
    def client(self) -> ApiClient:
        return self.request.user


class AccountView(OrganizationView):
    """Per-account endpoint: needs X-Account-Token of the key's organization and environment."""

    schema = AccountSchema()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raw = request.META.get("HTTP_X_ACCOUNT_TOKEN", "").strip()
        if not raw:
            raise HeaderError("X-Account-Token", "Missing X-Account-Token header.")
        account = linked_account_for_token(
            raw_token=raw, organization=self.client.organization, account_type=self.client.environment
        )
        if account is None:
            raise HeaderError("X-Account-Token", "Invalid X-Account-Token for this API key.")
        account.organization = self.client.organization
        self.linked_account: LinkedAccount = account
        log_context_bind(linked_account_id=account.pk)
        linked_account_record_inbound_use(account=account)


def validate_query(serializer_class: type[serializers.Serializer], request) -> dict[str, Any]:
    """Query parameters through a serializer: a bad value, or a parameter the serializer does not
    declare (see `accounts.query_params`), is a 400 naming the parameter."""
    return query_validate(serializer_class, request.query_params)


class CommaSeparatedField(serializers.CharField):
    def __init__(self, *, child: serializers.Field, **kwargs):
        self.child = child
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        raw = super().to_internal_value(data)
        items = [item.strip() for item in raw.split(",") if item.strip()]
        if len(items) > 100:
            raise serializers.ValidationError("At most 100 values.")
        return [self.child.run_validation(item) for item in items]


class CursorParams(QueryParams):
    cursor = serializers.CharField(required=False, max_length=200)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)


def paginate(
    *,
    queryset: QuerySet,
    params: dict[str, Any],
    keys: tuple[str, ...] = ("id",),
) -> tuple[list, str | None, str | None]:
    """A list endpoint's page, newest first (see `accounts.paging` for the keys and cursors)."""
    try:
        page = keyset_page(
            queryset=queryset,
            keys=keys,
            cursor=params.get("cursor"),
            page_size=params.get("page_size") or 100,
        )
    except BadCursor:
        raise exceptions.ValidationError({"cursor": ["Invalid cursor."]})
    return page.rows, page.next_cursor, page.previous_cursor


def paginated_response(*, next_cursor: str | None, previous_cursor: str | None, data: list) -> Response:
    return Response(
        {"next": next_cursor, "previous": previous_cursor, "results": data}, status=status.HTTP_200_OK
    )


def list_schema(operation_id: str, params: type[serializers.Serializer], item: type[serializers.Serializer]):
    """extend_schema of a paged list endpoint: its query parameters, and the list envelope of
    `item` named as its serializer (IssueSerializer: PaginatedIssueList)."""
    name = item.__name__.removesuffix("Serializer")
    return extend_schema(
        operation_id=operation_id,
        parameters=[params],
        responses=paginated_serializer(f"Paginated{name}List", item),
    )


def paginated_serializer(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The list envelope, for the OpenAPI schema."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "next": serializers.CharField(allow_null=True),
            "previous": serializers.CharField(allow_null=True),
            "results": item(many=True),
        },
    )
