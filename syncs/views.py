"""The data endpoints (hris Employees), sync status and resync, and the sandbox controls."""

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from accounts.api import (
    ACCOUNT_TOKEN_PARAMETER,
    AccountView,
    CursorParams,
    paginate,
    paginated_response,
    paginated_serializer,
    validate_query,
)
from accounts.authentication import HasApiKey
from accounts.models import AccountType
from accounts.selectors import linked_account_credentials

from . import dispatch, sandbox_controls, selectors
from .models import Employee


# --- serializers -----------------------------------------------------------------------------------
class EmployeeSerializer(serializers.ModelSerializer):
    """Merge's Employee (the fields Relink syncs; the relational ones are null)."""

    id = serializers.UUIDField()
    company = serializers.SerializerMethodField()
    manager = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    pay_group = serializers.SerializerMethodField()
    home_location = serializers.SerializerMethodField()
    work_location = serializers.SerializerMethodField()
    employments = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()
    field_mappings = serializers.SerializerMethodField()
    remote_data = serializers.SerializerMethodField()

    class Meta:
        model = Employee
        fields = [
            "id",
            "remote_id",
            "created_at",
            "modified_at",
            "employee_number",
            "company",
            "first_name",
            "last_name",
            "display_full_name",
            "groups",
            "work_email",
            "personal_email",
            "mobile_phone_number",
            "employments",
            "home_location",
            "work_location",
            "manager",
            "team",
            "pay_group",
            "employment_status",
            "start_date",
            "remote_created_at",
            "termination_date",
            "remote_was_deleted",
            "field_mappings",
            "remote_data",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def _null(self, obj) -> None:
        return None

    def _empty(self, obj) -> list:
        return []

    get_company = get_manager = get_team = get_pay_group = get_home_location = get_work_location = _null
    get_field_mappings = get_remote_data = _null
    get_employments = get_groups = _empty


def _drf_datetime(value, tz):
    """A date-time as EmployeeSerializer's DateTimeField writes it: in the current time zone,
    ISO 8601, "Z" for UTC."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, tz)
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def employees_as_api(employees: list[Employee]) -> list[dict]:
    """What EmployeeSerializer(employees, many=True).data holds, field for field and in its
    order, written out: the generic serializer was two thirds of a page's CPU time.
    (tests/syncs/test_api.py holds the two side by side.)"""
    tz = timezone.get_current_timezone()
    return [
        {
            "id": str(e.id),
            "remote_id": e.remote_id,
            "created_at": _drf_datetime(e.created_at, tz),
            "modified_at": _drf_datetime(e.modified_at, tz),
            "employee_number": e.employee_number,
            "company": None,
            "first_name": e.first_name,
            "last_name": e.last_name,
            "display_full_name": e.display_full_name,
            "groups": [],
            "work_email": e.work_email,
            "personal_email": e.personal_email,
            "mobile_phone_number": e.mobile_phone_number,
            "employments": [],
            "home_location": None,
            "work_location": None,
            "manager": None,
            "team": None,
            "pay_group": None,
            "employment_status": e.employment_status,
            "start_date": _drf_datetime(e.start_date, tz),
            "remote_created_at": _drf_datetime(e.remote_created_at, tz),
            "termination_date": _drf_datetime(e.termination_date, tz),
            "remote_was_deleted": e.remote_was_deleted,
            "field_mappings": None,
            "remote_data": None,
        }
        for e in employees
    ]


class EmployeeListParams(CursorParams):
    modified_after = serializers.DateTimeField(required=False)
    remote_id = serializers.CharField(required=False, max_length=255)
    include_deleted_data = serializers.BooleanField(required=False, default=False)


class EmployeeRetrieveParams(serializers.Serializer):
    include_deleted_data = serializers.BooleanField(required=False, default=False)


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


# --- hris data -----------------------------------------------------------------------------------
class HrisAccountView(AccountView):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # The data endpoints exist in their category only, for accounts of that category.
        if kwargs.get("category") != "hris" or self.linked_account.category != "hris":
            raise Http404


class EmployeeListView(HrisAccountView):
    @extend_schema(
        operation_id="employees_list",
        parameters=[ACCOUNT_TOKEN_PARAMETER, EmployeeListParams],
        responses=paginated_serializer("PaginatedEmployeeList", EmployeeSerializer),
    )
    def get(self, request, category):
        params = validate_query(EmployeeListParams, request)
        qs = selectors.employees_for_account(
            account=self.linked_account,
            include_deleted=params["include_deleted_data"],
            modified_after=params.get("modified_after"),
            remote_id=params.get("remote_id"),
        )
        rows, next_cursor, previous_cursor = paginate(queryset=qs, params=params)
        return paginated_response(
            next_cursor=next_cursor,
            previous_cursor=previous_cursor,
            data=employees_as_api(rows),
        )


class EmployeeRetrieveView(HrisAccountView):
    @extend_schema(
        operation_id="employees_retrieve",
        parameters=[ACCOUNT_TOKEN_PARAMETER, EmployeeRetrieveParams],
        responses=EmployeeSerializer,
    )
    def get(self, request, category, employee_id):
        params = validate_query(EmployeeRetrieveParams, request)
        employee = selectors.employee_for_account(account=self.linked_account, employee_id=employee_id)
        if employee is None or (employee.remote_was_deleted and not params["include_deleted_data"]):
            raise Http404
        return Response(employees_as_api([employee])[0])


# --- sync status -----------------------------------------------------------------------------------
class SyncStatusView(AccountView):
    @extend_schema(
        operation_id="sync_status_list",
        parameters=[ACCOUNT_TOKEN_PARAMETER, CursorParams],
        responses=paginated_serializer("PaginatedSyncStatusList", SyncStatusSerializer),
    )
    def get(self, request, category):
        validate_query(CursorParams, request)
        rows = selectors.sync_status_rows(account=self.linked_account)
        return paginated_response(next_cursor=None, previous_cursor=None, data=rows)


class SyncStatusResyncView(AccountView):
    @extend_schema(
        operation_id="sync_status_resync_create",
        parameters=[ACCOUNT_TOKEN_PARAMETER],
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


class SandboxAccountView(AccountView):
    permission_classes = [IsTestKey]

    def sandbox_api_key(self) -> str:
        if self.linked_account.integration != "sandbox":
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
        parameters=[ACCOUNT_TOKEN_PARAMETER],
        request=None,
        responses={200: OpenApiResponse(description="The account's sandbox key is revoked")},
    )
    def post(self, request):
        try:
            sandbox_controls.sandbox_revoke_key(api_key=self.sandbox_api_key())
        except sandbox_controls.SandboxError as exc:
            return _provider_unavailable(exc)
        return Response({"revoked": True})


class ProviderOutageView(SandboxAccountView):
    @extend_schema(
        operation_id="sandbox_provider_outage",
        parameters=[ACCOUNT_TOKEN_PARAMETER],
        request=OutageSerializer,
        responses={200: OutageSerializer},
    )
    def post(self, request):
        serializer = OutageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mode = serializer.validated_data["mode"]
        try:
            sandbox_controls.sandbox_set_outage(api_key=self.sandbox_api_key(), mode=mode)
        except sandbox_controls.SandboxError as exc:
            return _provider_unavailable(exc)
        return Response({"mode": mode})
