from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from . import catalog
from .api import (
    AccountView,
    OrganizationView,
    list_schema,
    paginate,
    paginated_response,
    validate_query,
)
from .selectors import linked_account_details, linked_accounts_for_environment
from .serializers import (
    AccountDetailsSerializer,
    LinkedAccountFilterSerializer,
    LinkedAccountSerializer,
    RegeneratedTokenSerializer,
    status_detail,
)
from .services import linked_account_delete, linked_account_regenerate_token
from .timefmt import api_datetime


class AccountDetailsView(AccountView):
    @extend_schema(
        operation_id="account_details_retrieve",
        responses=AccountDetailsSerializer,
    )
    def get(self, request, category):
        return Response(linked_account_details(account=self.linked_account))


# What a /linked-accounts row shows, and its cursor key (created_at, id): a page of 100 rows
# reads no credentials and parses no sync timestamps, as named tuples (no model instances).
LINKED_ACCOUNT_API_FIELDS = (
    "id",
    "created_at",
    "category",
    "status",
    "end_user_origin_id",
    "end_user_organization_name",
    "end_user_email_address",
    "webhook_listener_url",
    "is_duplicate",
    "integration",
    "account_type",
    "completed_at",
    "status_detail",
)


class LinkedAccountListView(OrganizationView):
    @list_schema("linked_accounts_list", LinkedAccountFilterSerializer, LinkedAccountSerializer)
    def get(self, request, category):
        params = validate_query(LinkedAccountFilterSerializer, request)
        qs = linked_accounts_for_environment(
            organization=self.client.organization, account_type=self.client.environment, filters=params
        ).values_list(*LINKED_ACCOUNT_API_FIELDS, named=True)
        rows, next_cursor, previous_cursor = paginate(queryset=qs, params=params, keys=("created_at", "id"))
        results = [
            {
                "id": str(a.id),
                "category": a.category,
                "status": a.status,
                "status_detail": status_detail(a),
                "end_user_origin_id": a.end_user_origin_id,
                "end_user_organization_name": a.end_user_organization_name,
                "end_user_email_address": a.end_user_email_address,
                # Required (a string) in Merge's schema of this list: "" when none is set.
                "webhook_listener_url": a.webhook_listener_url,
                "is_duplicate": a.is_duplicate,
                "integration": catalog.get(a.integration).as_api(),
                "account_type": a.account_type,
                # A date-time in Merge's schema of this list (null only on account-details): an
                # account not linked yet shows when its linking started.
                "completed_at": api_datetime(a.completed_at or a.created_at),
            }
            for a in rows
        ]
        return paginated_response(next_cursor=next_cursor, previous_cursor=previous_cursor, data=results)


class DeleteAccountView(AccountView):
    @extend_schema(
        operation_id="delete_account_delete",
        request=None,
        responses={200: OpenApiResponse(description="Deleted")},
    )
    def post(self, request, category):
        linked_account_delete(account=self.linked_account, reason="Deleted through the API")
        return Response(status=200)


class RegenerateAccountTokenView(AccountView):
    @extend_schema(
        operation_id="account_token_regenerate",
        request=None,
        responses=RegeneratedTokenSerializer,
    )
    def post(self, request, category):
        raw = linked_account_regenerate_token(account=self.linked_account)
        return Response({"linked_account_id": str(self.linked_account.id), "account_token": raw})
