"""The data endpoints (every registered common model), sync status and resync, and the sandbox controls."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts import catalog
from accounts.api import (
    AccountView,
    CursorParams,
    list_schema,
    paginate,
    paginated_response,
    paginated_serializer,
    validate_query,
)
from accounts.authentication import HasApiKey
from accounts.models import AccountType
from accounts.query_params import query_filters
from accounts.selectors import linked_account_credentials

from . import dispatch, sandbox_controls, selectors
from .serializers import ApiModel


# --- serializers ---------------------------------------------------------------------------------------
class SyncStatusSerializer(serializers.Serializer):
    model_name = serializers.CharField()
    model_id = serializers.CharField()
    last_sync_start = serializers.DateTimeField(allow_null=True)
    next_sync_start = serializers.DateTimeField(allow_null=True)
    last_sync_result = serializers.CharField(allow_null=True)
    last_sync_finished = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["SYNCING", "DONE", "FAILED", "DISABLED", "PAUSED", "PARTIALLY_SYNCED"]
    )
    is_initial_sync = serializers.BooleanField()


class OutageSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["none", "http_500", "timeout", "slow"])


# --- synced data (every common model) ------------------------------------------------------------------
class CommonModelView(AccountView):
    """A data endpoint of one common model: it exists in that model's category only, for accounts
    of that category (any other: 404, as for an unknown path). Data is what the last successful
    sync wrote, also while the account is RELINK_NEEDED."""

    api_model: ApiModel

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        category = self.api_model.model.category
        if kwargs.get("category") != category or self.linked_account.category != category:
            raise Http404


class CommonModelListView(CommonModelView):
    def get(self, request, category):
        api = self.api_model
        params = validate_query(api.list_params, request)
        qs = selectors.common_model_rows(
            account=self.linked_account,
            model=api.model,
            include_deleted=params["include_deleted_data"],
            filters=query_filters(api.list_params, params),
        )
        rows, next_cursor, previous_cursor = paginate(queryset=qs, params=params)
        return paginated_response(
            next_cursor=next_cursor, previous_cursor=previous_cursor, data=api.write(rows, params)
        )


class CommonModelRetrieveView(CommonModelView):
    def get(self, request, category, object_id):
        api = self.api_model
        params = validate_query(api.retrieve_params, request)
        row = selectors.common_model_row(account=self.linked_account, model=api.model, row_id=object_id)
        if row is None or (row.remote_was_deleted and not params["include_deleted_data"]):
            raise Http404
        return Response(api.write([row], params)[0])


def common_model_views(api: ApiModel) -> tuple[type[CommonModelListView], type[CommonModelRetrieveView]]:
    """The list and retrieve views of one registered model, with their OpenAPI operations
    (`candidates_list`, `candidates_retrieve`, as Merge names them)."""
    name, path = api.model.name, api.model.path

    # Fresh functions per model: extend_schema marks the function it decorates.
    def list_get(self, request, category):
        return CommonModelListView.get(self, request, category)

    def retrieve_get(self, request, category, object_id):
        return CommonModelRetrieveView.get(self, request, category, object_id)

    def view(base, kind: str, get, params, responses):
        """`<Name><Kind>View`, its GET documented as the `<path>_<kind>` operation."""
        operation = extend_schema(operation_id=f"{path}_{kind}", parameters=[params], responses=responses)
        return type(f"{name}{kind.title()}View", (base,), {"api_model": api, "get": operation(get)})

    return (
        view(
            CommonModelListView,
            "list",
            list_get,
            api.list_params,
            paginated_serializer(f"Paginated{name}List", api.serializer),
        ),
        view(CommonModelRetrieveView, "retrieve", retrieve_get, api.retrieve_params, api.serializer),
    )


# --- sync status -----------------------------------------------------------------------------------
class SyncStatusView(AccountView):
    @list_schema("sync_status_list", CursorParams, SyncStatusSerializer)
    def get(self, request, category):
        params = validate_query(CursorParams, request)
        if params.get("cursor"):
            # One page always: no cursor was ever handed out, so any cursor is a bad one.
            raise serializers.ValidationError({"cursor": ["Invalid cursor."]})
        rows = selectors.sync_status_rows(account=self.linked_account)
        return paginated_response(next_cursor=None, previous_cursor=None, data=rows)


class SyncStatusResyncView(AccountView):
    @extend_schema(
        operation_id="sync_status_resync_create",
        request=None,
        responses=SyncStatusSerializer(many=True),
    )
    def post(self, request, category):
        dispatch.sync_queue_now(account=self.linked_account, reason="Resync requested through the API")
        rows = selectors.sync_status_rows(account=self.linked_account)
        # The sync is queued: say so (Merge answers SYNCING at once too).
        for row in rows:
            if row["status"] != "PAUSED":
                row["status"] = "SYNCING"
        return Response(rows)


# --- sandbox controls (test keys only) ---------------------------------------------------------------
class IsTestKey(HasApiKey):
    message = "The sandbox helpers need a test API key; production keys may not use them."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.environment == AccountType.TEST


# The integrations the sandbox provider serves with its API keys (reset-login revokes the key).
SANDBOX_INTEGRATIONS = ("sandbox", "sandbox_ats", "sandbox_crm")


class SandboxAccountView(AccountView):
    permission_classes = [IsTestKey]

    def sandbox_api_key(self) -> str:
        if self.linked_account.integration not in SANDBOX_INTEGRATIONS:
            raise serializers.ValidationError(
                {"X-Account-Token": ["This linked account does not use the sandbox integration."]}
            )
        api_key = linked_account_credentials(account=self.linked_account).get("api_key", "")
        if not api_key:
            raise serializers.ValidationError(
                {"X-Account-Token": ["This linked account has no sandbox key."]}
            )
        return api_key


def _provider_unavailable(exc: Exception) -> Response:
    return Response({"detail": str(exc)}, status=503)


class ResetLoginView(SandboxAccountView):
    @extend_schema(
        operation_id="sandbox_reset_login",
        request=None,
        responses={200: OpenApiResponse(description="The account's sandbox key is revoked")},
    )
    def post(self, request):
        if catalog.get(self.linked_account.integration).auth_type == "OAUTH2":
            from .views_sandbox_oauth import reset_login_oauth

            return reset_login_oauth(self.linked_account)
        try:
            sandbox_controls.sandbox_revoke_key(
                api_key=self.sandbox_api_key(), tenant=str(self.linked_account.organization_id)
            )
        except sandbox_controls.SandboxError as exc:
            return _provider_unavailable(exc)
        return Response({"revoked": True})


class ProviderOutageView(SandboxAccountView):
    @extend_schema(
        operation_id="sandbox_provider_outage",
        request=OutageSerializer,
        responses={200: OutageSerializer},
    )
    def post(self, request):
        serializer = OutageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mode = serializer.validated_data["mode"]
        if catalog.get(self.linked_account.integration).auth_type == "OAUTH2":
            from .views_sandbox_oauth import provider_outage_oauth

            return provider_outage_oauth(self.linked_account, mode)
        try:
            sandbox_controls.sandbox_set_outage(
                api_key=self.sandbox_api_key(), mode=mode, tenant=str(self.linked_account.organization_id)
            )
        except sandbox_controls.SandboxError as exc:
            return _provider_unavailable(exc)
        return Response({"mode": mode})
