from datetime import UTC, datetime, time

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.query_params import QueryParams
from accounts.serializers import BooleanString

from .models import ErrorDescription, IssueStatus


class EndUserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    end_user_origin_id = serializers.CharField()
    end_user_organization_name = serializers.CharField()
    end_user_email_address = serializers.EmailField()


class IssueSerializer(serializers.Serializer):
    """Output of GET /issues and /issues/{id} (built by selectors.issue_as_api)."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=IssueStatus.choices)
    error_description = serializers.ChoiceField(choices=ErrorDescription.choices)
    end_user = EndUserSerializer()
    first_incident_time = serializers.DateTimeField()
    last_incident_time = serializers.DateTimeField()
    is_muted = serializers.BooleanField()
    error_details = serializers.ListField(child=serializers.CharField())


@extend_schema_field(OpenApiTypes.STR)
class DateOrDateTimeField(serializers.Field):
    """An ISO 8601 date-time, or a plain date (midnight UTC), as Merge's start_date/end_date."""

    default_error_messages = {"invalid": "Expected an ISO 8601 date (YYYY-MM-DD) or date-time."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        value = data.strip()
        try:
            parsed = parse_datetime(value)
            if parsed is None:
                day = parse_date(value)
                if day is None:
                    self.fail("invalid")
                parsed = datetime.combine(day, time.min)
        except ValueError:
            self.fail("invalid")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed

    def to_representation(self, value):
        return value.isoformat()


class IssueFilterSerializer(QueryParams):
    cursor = serializers.CharField(required=False, max_length=400)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)
    status = serializers.ChoiceField(choices=IssueStatus.choices, required=False)
    linked_account_id = serializers.UUIDField(required=False)
    account_token = serializers.CharField(required=False, max_length=200)
    integration_name = serializers.CharField(required=False, max_length=100)
    end_user_organization_name = serializers.CharField(required=False, max_length=255)
    include_muted = BooleanString(required=False, help_text="If true, muted issues are included.")
    start_date = DateOrDateTimeField(
        required=False, help_text="Only issues whose most recent incident was after this time."
    )
    end_date = DateOrDateTimeField(
        required=False, help_text="Only issues whose most recent incident was before this time."
    )
    first_incident_time_after = serializers.DateTimeField(required=False)
    first_incident_time_before = serializers.DateTimeField(required=False)
    last_incident_time_after = serializers.DateTimeField(required=False)
    last_incident_time_before = serializers.DateTimeField(required=False)
