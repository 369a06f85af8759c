"""GET /api/billing/v1/usage (Relink): the month's billing, the same numbers as the billing page."""

from datetime import date

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from .api import OrganizationView, validate_query
from .billing import billing_usage, parse_month


class UsageQuerySerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM (UTC); defaults to the current month.", required=False)

    def validate_month(self, value: str) -> date:
        try:
            return parse_month(value)
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
    accounts = AccountUsageSerializer(many=True)


class UsageView(OrganizationView):
    @extend_schema(
        operation_id="billing_usage_retrieve", parameters=[UsageQuerySerializer], responses=UsageSerializer
    )
    def get(self, request):
        params = validate_query(UsageQuerySerializer, request)
        month = params.get("month") or parse_month(None)
        usage = billing_usage(
            organization=self.client.organization, month=month, account_type=self.client.environment
        )
        return Response(usage)
