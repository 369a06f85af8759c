"""GET /api/billing/v1/usage (Relink): the month's billing, the same numbers as the billing page."""

from datetime import date

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from .api import OrganizationView, validate_query
from .billing import parse_month
from .billing_months import billing_month_close
from .billing_pages import billing_usage_json, decode_cursor

MAX_PAGE_SIZE = 10_000
STREAM_FROM_BYTES = 1 << 20


class UsageQuerySerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM (UTC); defaults to the current month.", required=False)

    def validate_month(self, value: str) -> date:
        try:
            return parse_month(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    page_size = serializers.IntegerField(
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        required=False,
        help_text="Page the accounts: at most this many, by account id, with `next` the next page's cursor. "
        "Without it, every account in one response.",
    )
    cursor = serializers.CharField(required=False, help_text="`next` from the previous page.")

    def validate_cursor(self, value: str):
        try:
            return decode_cursor(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class ExcludedDaysSerializer(serializers.Serializer):
    relink_needed = serializers.IntegerField()
    incomplete = serializers.IntegerField()
    test = serializers.IntegerField()
    deleted = serializers.IntegerField()


class AccountUsageSerializer(serializers.Serializer):
    linked_account_id = serializers.UUIDField()
    end_user_origin_id = serializers.CharField()
    end_user_organization_name = serializers.CharField()
    integration = serializers.CharField()
    category = serializers.CharField()
    account_type = serializers.CharField()
    status = serializers.CharField(help_text="The account's status now, or DELETED.")
    billable_days = serializers.IntegerField()
    excluded_days = ExcludedDaysSerializer()


class UsageSerializer(serializers.Serializer):
    month = serializers.CharField()
    days_in_month = serializers.IntegerField()
    days_counted = serializers.IntegerField(help_text="Days that have ended (all of them for a past month).")
    is_final = serializers.BooleanField(help_text="True once the month is over: the numbers never change.")
    billable_account_days = serializers.IntegerField()
    average_billable_accounts = serializers.FloatField()
    excluded_account_days = ExcludedDaysSerializer()
    next = serializers.CharField(
        allow_null=True,
        help_text="With `page_size`: the cursor of the next page; null on the last (and unpaged).",
    )
    accounts = AccountUsageSerializer(many=True)


class UsageView(OrganizationView):
    @extend_schema(
        operation_id="billing_usage_retrieve", parameters=[UsageQuerySerializer], responses=UsageSerializer
    )
    def get(self, request):
        params = validate_query(UsageQuerySerializer, request)
        month = params.get("month") or parse_month(None)
        organization = self.client.organization
        billing_month_close(organization=organization, month=month)  # once per closed month
        # Rendered by accounts.billing_months: a closed month's 100k entries are stored JSON.
        body = billing_usage_json(
            organization=organization,
            month=month,
            account_type=self.client.environment,
            page_size=params.get("page_size"),
            cursor=params.get("cursor"),
        )
        size = sum(len(chunk) for chunk in body)
        if size < STREAM_FROM_BYTES:
            return HttpResponse(b"".join(body), content_type="application/json")
        # 30 MB for 100k accounts: handed to the server chunk by chunk, never copied into one.
        response = StreamingHttpResponse(body, content_type="application/json")
        response["Content-Length"] = str(size)
        return response
