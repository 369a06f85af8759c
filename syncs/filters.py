"""The query parameters of the data endpoints, declared once per common model (the rule is
`accounts.query_params`): the ones Relink supports, with the column each filters, and the ones
Merge documents for the endpoint that Relink refuses: the relational filters and options that
need objects Relink does not sync (companies, teams, locations, pay groups, employments, groups,
`expand`) and the original enum values (`remote_fields`, `show_enum_origins`). A new model's
endpoints declare theirs here."""

from rest_framework import serializers

from accounts.api import CursorParams
from accounts.query_params import QueryParams, TrueNotSupported
from accounts.serializers import BooleanString

from .models import EmploymentStatus

# Merge's "after"/"before" are strict bounds.
COMMON_LOOKUPS = {
    "created_after": "created_at__gt",
    "created_before": "created_at__lt",
    "modified_after": "modified_at__gt",
    "modified_before": "modified_at__lt",
    "remote_id": "remote_id",
}


class CommonModelListParams(CursorParams):
    """What every common model's list takes."""

    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    modified_after = serializers.DateTimeField(required=False)
    modified_before = serializers.DateTimeField(required=False)
    remote_id = serializers.CharField(required=False, max_length=255)
    include_deleted_data = BooleanString(required=False, default=False)
    include_remote_data = TrueNotSupported()
    # Relink keeps no shell records, so with or without them the answer is the same.
    include_shell_data = BooleanString(required=False, default=False)
    not_supported = ("expand",)
    lookups = COMMON_LOOKUPS


class CommonModelRetrieveParams(QueryParams):
    include_deleted_data = BooleanString(
        required=False, default=False, help_text="Relink: also return a record deleted in the provider."
    )
    include_remote_data = TrueNotSupported()
    include_shell_data = BooleanString(required=False, default=False)
    not_supported = ("expand",)


_ENUM_ORIGINS = ("remote_fields", "show_enum_origins")


class EmployeeListParams(CommonModelListParams):
    display_full_name = serializers.CharField(required=False, max_length=512)
    employee_number = serializers.CharField(required=False, max_length=255)
    employment_status = serializers.ChoiceField(choices=EmploymentStatus.choices, required=False)
    first_name = serializers.CharField(required=False, max_length=255)
    last_name = serializers.CharField(required=False, max_length=255)
    personal_email = serializers.CharField(required=False, max_length=320)
    work_email = serializers.CharField(required=False, max_length=320)
    started_after = serializers.DateTimeField(required=False)
    started_before = serializers.DateTimeField(required=False)
    terminated_after = serializers.DateTimeField(required=False)
    terminated_before = serializers.DateTimeField(required=False)
    include_sensitive_fields = BooleanString(
        required=False, default=False, help_text="Include ssn and date_of_birth."
    )
    not_supported = (
        *CommonModelListParams.not_supported,
        *_ENUM_ORIGINS,
        "company_id",
        "employment_type",
        "groups",
        "home_location_id",
        "job_title",
        "manager_id",
        "pay_group_id",
        "team_id",
        "work_location_id",
    )
    lookups = {
        **COMMON_LOOKUPS,
        "display_full_name": "display_full_name",
        "employee_number": "employee_number",
        "employment_status": "employment_status",
        "first_name": "first_name",
        "last_name": "last_name",
        "personal_email": "personal_email",
        "work_email": "work_email",
        "started_after": "start_date__gt",
        "started_before": "start_date__lt",
        "terminated_after": "termination_date__gt",
        "terminated_before": "termination_date__lt",
    }


class EmployeeRetrieveParams(CommonModelRetrieveParams):
    include_sensitive_fields = BooleanString(
        required=False, default=False, help_text="Include ssn and date_of_birth."
    )
    not_supported = (*CommonModelRetrieveParams.not_supported, *_ENUM_ORIGINS)


# JSON-list filters (emails, phone numbers, tags) would need jsonb containment, which SQLite
# (make run) lacks: refused rather than answered differently per database.
class CandidateListParams(CommonModelListParams):
    first_name = serializers.CharField(required=False, max_length=255)
    last_name = serializers.CharField(required=False, max_length=255)
    not_supported = (*CommonModelListParams.not_supported, "email_addresses", "tags")
    lookups = {**COMMON_LOOKUPS, "first_name": "first_name", "last_name": "last_name"}


class ContactListParams(CommonModelListParams):
    include_remote_fields = TrueNotSupported()
    not_supported = (*CommonModelListParams.not_supported, "account_id", "email_addresses", "phone_numbers")


class ContactRetrieveParams(CommonModelRetrieveParams):
    include_remote_fields = TrueNotSupported()
