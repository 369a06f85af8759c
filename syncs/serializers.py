"""The API side of the common-model registry: each model's Merge serializer (the OpenAPI schema
and the reference for its shape), its list filters, and a writer that produces exactly what the
serializer would, field for field and in its order, written out by hand: the generic serializer
was two thirds of a page's CPU time (tests/syncs/test_api.py and test_categories_api.py hold
each pair side by side). The data endpoints (`syncs/views.py`, `syncs/urls.py`) are built from
`API_MODELS`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import common_models, sensitive
from .common_models import CommonModel
from .filters import (
    CandidateListParams,
    CommonModelListParams,
    CommonModelRetrieveParams,
    ContactListParams,
    ContactRetrieveParams,
    EmployeeListParams,
    EmployeeRetrieveParams,
)
from .models import Candidate, Contact, Employee


# --- shared pieces -----------------------------------------------------------------------------------
class _CommonModelSerializer(serializers.ModelSerializer):
    """What every common model's Merge serializer shares: the UUID id, field mappings and remote
    data (not kept: null), and the getters of the Merge fields Relink does not sync (`_null`,
    `_empty`)."""

    id = serializers.UUIDField()
    field_mappings = serializers.SerializerMethodField()
    remote_data = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def _null(self, obj) -> None:
        return None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def _empty(self, obj) -> list:
        return []

    get_field_mappings = get_remote_data = _null


def _drf_datetime(value: datetime | None, tz: tzinfo) -> str | None:
    """A date-time as DRF's DateTimeField writes it: in the current time zone, ISO 8601, "Z" for UTC."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, tz)
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _items(values: list, keys: tuple[str, ...]) -> list[dict]:
    return [{key: item.get(key) for key in keys} for item in values if isinstance(item, dict)]


# Every common model's Merge shape opens with these fields and closes with the _TAIL ones.
_HEAD = ("id", "remote_id", "created_at", "modified_at")
_TAIL = ("remote_was_deleted", "field_mappings", "remote_data")


def _head(row, tz: tzinfo) -> dict:
    """The _HEAD fields of a row, as its serializer writes them."""
    return {
        "id": str(row.id),
        "remote_id": row.remote_id,
        "created_at": _drf_datetime(row.created_at, tz),
        "modified_at": _drf_datetime(row.modified_at, tz),
    }


def _tail(row) -> dict:
    """The _TAIL fields of a row: its deletion flag; field mappings and remote data (not kept) null."""
    return {"remote_was_deleted": row.remote_was_deleted, "field_mappings": None, "remote_data": None}


# --- hris.Employee -------------------------------------------------------------------------------------
FIELD_ORDER = (
    "employee_url",
    *_HEAD,
    "employee_number",
    "company",
    "first_name",
    "last_name",
    "preferred_name",
    "display_full_name",
    "username",
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
    "ssn",
    "gender",
    "ethnicity",
    "marital_status",
    "date_of_birth",
    "hire_date",
    "start_date",
    "remote_created_at",
    "employment_status",
    "termination_date",
    "avatar",
    "custom_fields",
    *_TAIL,
)


class EmployeeSerializer(_CommonModelSerializer):
    """Merge's Employee, every field in Merge's order: what the provider gave, null otherwise;
    the relational ones (objects Relink does not sync) null or empty. `ssn` and `date_of_birth`
    only with the context's include_sensitive_fields, as Merge answers them."""

    company = serializers.SerializerMethodField()
    manager = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    pay_group = serializers.SerializerMethodField()
    home_location = serializers.SerializerMethodField()
    work_location = serializers.SerializerMethodField()
    employments = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()
    ssn = serializers.SerializerMethodField()
    date_of_birth = serializers.SerializerMethodField()

    class Meta:
        model = Employee
        fields = list(FIELD_ORDER)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_ssn(self, obj) -> str | None:
        return sensitive.reveal(obj.ssn_encrypted) if self.context.get("include_sensitive_fields") else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_date_of_birth(self, obj) -> str | None:
        if not self.context.get("include_sensitive_fields"):
            return None
        born = sensitive.reveal_datetime(obj.date_of_birth_encrypted)
        return serializers.DateTimeField().to_representation(born) if born else None

    get_company = get_manager = get_team = get_pay_group = get_home_location = get_work_location = (
        _CommonModelSerializer._null
    )
    get_employments = get_groups = _CommonModelSerializer._empty


def employees_as_api(employees: list[Employee], params: dict | None = None) -> list[dict]:
    """What EmployeeSerializer(employees, many=True, context=params).data holds (`params`: the
    endpoint's validated query; include_sensitive_fields adds ssn and date_of_birth, decrypted)."""
    tz = timezone.get_current_timezone()
    show = bool(params and params.get("include_sensitive_fields"))
    return [
        {
            "employee_url": e.employee_url,
            **_head(e, tz),
            "employee_number": e.employee_number,
            "company": None,
            "first_name": e.first_name,
            "last_name": e.last_name,
            "preferred_name": e.preferred_name,
            "display_full_name": e.display_full_name,
            "username": e.username,
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
            "ssn": sensitive.reveal(e.ssn_encrypted) if show else None,
            "gender": e.gender,
            "ethnicity": e.ethnicity,
            "marital_status": e.marital_status,
            "date_of_birth": _drf_datetime(sensitive.reveal_datetime(e.date_of_birth_encrypted), tz)
            if show
            else None,
            "hire_date": _drf_datetime(e.hire_date, tz),
            "start_date": _drf_datetime(e.start_date, tz),
            "remote_created_at": _drf_datetime(e.remote_created_at, tz),
            "employment_status": e.employment_status,
            "termination_date": _drf_datetime(e.termination_date, tz),
            "avatar": e.avatar,
            "custom_fields": e.custom_fields,
            **_tail(e),
        }
        for e in employees
    ]


# --- ats.Candidate -------------------------------------------------------------------------------------
ATS_EMAIL_KEYS = ("value", "email_address_type")
ATS_PHONE_KEYS = ("value", "phone_number_type")
ATS_URL_KEYS = ("value", "url_type")


class AtsEmailAddressSerializer(serializers.Serializer):
    value = serializers.CharField(allow_null=True)
    email_address_type = serializers.ChoiceField(choices=["PERSONAL", "WORK", "OTHER"], allow_null=True)


class AtsPhoneNumberSerializer(serializers.Serializer):
    value = serializers.CharField(allow_null=True)
    phone_number_type = serializers.ChoiceField(
        choices=["HOME", "WORK", "MOBILE", "SKYPE", "OTHER"], allow_null=True
    )


class AtsUrlSerializer(serializers.Serializer):
    value = serializers.CharField(allow_null=True)
    url_type = serializers.ChoiceField(
        choices=["PERSONAL", "COMPANY", "PORTFOLIO", "BLOG", "SOCIAL_MEDIA", "OTHER", "JOB_POSTING"],
        allow_null=True,
    )


class CandidateSerializer(_CommonModelSerializer):
    """Merge's Candidate (applications and attachments, objects Relink does not sync, are empty)."""

    locations = serializers.ListField(child=serializers.CharField(allow_null=True))
    tags = serializers.ListField(child=serializers.CharField(allow_null=True))
    phone_numbers = AtsPhoneNumberSerializer(many=True)
    email_addresses = AtsEmailAddressSerializer(many=True)
    urls = AtsUrlSerializer(many=True)
    applications = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()

    class Meta:
        model = Candidate
        fields = [*_HEAD, *common_models.CANDIDATE.fields, "applications", "attachments", *_TAIL]

    get_applications = get_attachments = _CommonModelSerializer._empty


def candidates_as_api(candidates: list[Candidate], params: dict | None = None) -> list[dict]:
    tz = timezone.get_current_timezone()
    return [
        {
            **_head(c, tz),
            "first_name": c.first_name,
            "last_name": c.last_name,
            "company": c.company,
            "title": c.title,
            "remote_created_at": _drf_datetime(c.remote_created_at, tz),
            "remote_updated_at": _drf_datetime(c.remote_updated_at, tz),
            "last_interaction_at": _drf_datetime(c.last_interaction_at, tz),
            "is_private": c.is_private,
            "can_email": c.can_email,
            "locations": [str(v) if v is not None else None for v in c.locations],
            "phone_numbers": _items(c.phone_numbers, ATS_PHONE_KEYS),
            "email_addresses": _items(c.email_addresses, ATS_EMAIL_KEYS),
            "urls": _items(c.urls, ATS_URL_KEYS),
            "tags": [str(v) if v is not None else None for v in c.tags],
            "applications": [],
            "attachments": [],
            **_tail(c),
        }
        for c in candidates
    ]


# --- crm.Contact -------------------------------------------------------------------------------------
CRM_EMAIL_KEYS = ("email_address", "email_address_type")
CRM_PHONE_KEYS = ("phone_number", "phone_number_type")
CRM_ADDRESS_KEYS = ("street_1", "street_2", "city", "state", "postal_code", "country", "address_type")


class CrmEmailAddressSerializer(serializers.Serializer):
    email_address = serializers.CharField(allow_null=True)
    email_address_type = serializers.CharField(allow_null=True)


class CrmPhoneNumberSerializer(serializers.Serializer):
    phone_number = serializers.CharField(allow_null=True)
    phone_number_type = serializers.CharField(allow_null=True)


class CrmAddressSerializer(serializers.Serializer):
    street_1 = serializers.CharField(allow_null=True)
    street_2 = serializers.CharField(allow_null=True)
    city = serializers.CharField(allow_null=True)
    state = serializers.CharField(allow_null=True)
    postal_code = serializers.CharField(allow_null=True)
    country = serializers.CharField(allow_null=True)
    address_type = serializers.ChoiceField(choices=["BILLING", "SHIPPING"], allow_null=True)


class ContactSerializer(_CommonModelSerializer):
    """Merge's CRM Contact (account and owner, objects Relink does not sync, are null)."""

    addresses = CrmAddressSerializer(many=True)
    email_addresses = CrmEmailAddressSerializer(many=True)
    phone_numbers = CrmPhoneNumberSerializer(many=True)
    account = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField()
    remote_fields = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = [
            *_HEAD,
            "first_name",
            "last_name",
            "account",
            "owner",
            "addresses",
            "email_addresses",
            "phone_numbers",
            "last_activity_at",
            "remote_created_at",
            *_TAIL,
            "remote_fields",
        ]

    get_account = get_owner = get_remote_fields = _CommonModelSerializer._null


def contacts_as_api(contacts: list[Contact], params: dict | None = None) -> list[dict]:
    tz = timezone.get_current_timezone()
    return [
        {
            **_head(c, tz),
            "first_name": c.first_name,
            "last_name": c.last_name,
            "account": None,
            "owner": None,
            "addresses": _items(c.addresses, CRM_ADDRESS_KEYS),
            "email_addresses": _items(c.email_addresses, CRM_EMAIL_KEYS),
            "phone_numbers": _items(c.phone_numbers, CRM_PHONE_KEYS),
            "last_activity_at": _drf_datetime(c.last_activity_at, tz),
            "remote_created_at": _drf_datetime(c.remote_created_at, tz),
            **_tail(c),
            "remote_fields": None,
        }
        for c in contacts
    ]


# --- the registry's API side -----------------------------------------------------------------------
@dataclass(frozen=True)
class ApiModel:
    model: CommonModel
    serializer: type[serializers.Serializer]
    # (rows, validated query) -> what `serializer(rows, many=True, context=query).data` holds
    write: Callable[[list, dict | None], list[dict]]
    list_params: type[serializers.Serializer] = CommonModelListParams
    retrieve_params: type[serializers.Serializer] = CommonModelRetrieveParams


API_MODELS: dict[str, ApiModel] = {
    entry.model.model_id: entry
    for entry in (
        ApiModel(
            common_models.EMPLOYEE,
            EmployeeSerializer,
            employees_as_api,
            EmployeeListParams,
            EmployeeRetrieveParams,
        ),
        ApiModel(common_models.CANDIDATE, CandidateSerializer, candidates_as_api, CandidateListParams),
        ApiModel(
            common_models.CONTACT,
            ContactSerializer,
            contacts_as_api,
            ContactListParams,
            ContactRetrieveParams,
        ),
    )
}
