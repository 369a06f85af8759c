"""Shared REST machinery for every app: API-key and account-token authentication, errors,
query-parameter validation and keyset cursor pagination (Merge's list envelope)."""

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .authentication import ApiClient, HeaderError
from .models import LinkedAccount
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


class OrganizationView(APIView):
    """Organization-level endpoint: API key only (an X-Account-Token header is ignored)."""

    @property
    def client(self) -> ApiClient:
        return self.request.user


class AccountView(OrganizationView):
    """Per-account endpoint: needs X-Account-Token of the key's organization and environment."""

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
        linked_account_record_inbound_use(account=account)


def validate_query(serializer_class: type[serializers.Serializer], request) -> dict[str, Any]:
    """Query parameters through a serializer: unknown values are a 400 naming the field."""
    data = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        data[key] = values[-1] if len(values) == 1 else values
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


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


class CursorParams(serializers.Serializer):
    cursor = serializers.CharField(required=False, max_length=200)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)


def _encode_cursor(direction: str, values: tuple) -> str:
    payload = {"d": direction, "v": [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, parsers: tuple) -> tuple[str, tuple]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        direction, values = data["d"], data["v"]
        if direction not in ("n", "p") or not isinstance(values, list) or len(values) != len(parsers):
            raise ValueError
        return direction, tuple(parse(value) for parse, value in zip(parsers, values, strict=True))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, json.JSONDecodeError):
        raise exceptions.ValidationError({"cursor": ["Invalid cursor."]})


def _parse_datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive datetime")
    return parsed


_PARSERS = {"id": uuid.UUID}


def paginate(
    *,
    queryset: QuerySet,
    params: dict[str, Any],
    keys: tuple[str, ...] = ("id",),
) -> tuple[list, str | None, str | None]:
    """Keyset pagination, newest first. `keys` is a unique, ordered key: the UUIDv7 `id` alone
    (time-ordered), or e.g. ("created_at", "id") backed by a composite index that starts with
    the equality filters. Each page is one index range scan, as fast 500 pages deep as on the
    first page. Ordering by a column with no index of its own (created_at) keeps PostgreSQL
    from walking the primary key when the filter's rows are all old."""
    parsers = tuple(_PARSERS.get(k, _parse_datetime) if k.endswith("_at") or k == "id" else str for k in keys)
    page_size = params.get("page_size") or 100
    direction, position = "n", None
    if params.get("cursor"):
        direction, position = _decode_cursor(params["cursor"], parsers)
    key_expr = Tuple(*(F(k) for k in keys)) if len(keys) > 1 else None

    def after(lookup, single):
        if key_expr is None:
            return Q(**{f"{keys[0]}__{single}": position[0]})
        return lookup(key_expr, position)

    if direction == "n":
        qs = queryset.order_by(*(f"-{k}" for k in keys))
        if position is not None:
            qs = qs.filter(after(TupleLessThan, "lt"))
    else:
        qs = queryset.order_by(*keys).filter(after(TupleGreaterThan, "gt"))
    rows = list(qs[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if direction == "p":
        rows.reverse()

    def key_of(row) -> tuple:
        return tuple(getattr(row, k) for k in keys)

    if direction == "n":
        next_cursor = _encode_cursor("n", key_of(rows[-1])) if has_more else None
        previous_cursor = _encode_cursor("p", key_of(rows[0])) if position is not None and rows else None
    else:
        previous_cursor = _encode_cursor("p", key_of(rows[0])) if has_more else None
        next_cursor = _encode_cursor("n", key_of(rows[-1])) if rows else None
    return rows, next_cursor, previous_cursor


def paginated_response(*, next_cursor: str | None, previous_cursor: str | None, data: list) -> Response:
    return Response(
        {"next": next_cursor, "previous": previous_cursor, "results": data}, status=status.HTTP_200_OK
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
