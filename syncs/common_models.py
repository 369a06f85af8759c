"""The registry of common models: what Relink syncs, per category, in Merge's field names.

Each entry names its table (a `CommonModelRow` subclass in `syncs/models.py`), the Merge fields
a provider record maps to (an integration's `map_record(model_id, raw)` returns exactly these
plus `remote_id`), and the URL segment its endpoints live under. The sync run stores every model
through one upsert path (`syncs/storage.py`), sync-status and `LinkedAccount.sync_completed`
list the models of the account's category, and the data endpoints are built from the API side
of the registry (`syncs/serializers.py`). Adding a model: docs/common-models.md.

`normalise` makes a mapped record safe to store whatever the provider sent: `None` for a
non-nullable text column becomes "", NUL characters (PostgreSQL text cannot hold them) are
dropped, strings are cut to their column's length, and a list column holds a list of at most
`MAX_LIST_ITEMS` entries (an object column, e.g. custom_fields, an object of at most `MAX_OBJECT_KEYS` keys, or null). NULs inside list columns (jsonb cannot hold them either) are rare
and cost a deep walk: `strip_nul` runs only for a record whose canonical JSON shows one
(`syncs/storage.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models

from . import sensitive
from .models import Candidate, CommonModelRow, Contact, Employee

MAX_LIST_ITEMS = 50
# How each column kind travels in the upsert's JSON document on PostgreSQL (jsonb_to_record).
_PG_TYPES: dict[type[models.Field], str] = {
    models.DateTimeField: "timestamptz",
    models.BooleanField: "boolean",
    models.JSONField: "jsonb",
}
_TEXT, _JSON, _OTHER, _OBJECT = 0, 1, 2, 3
MAX_OBJECT_KEYS = 100  # an object column (custom_fields) keeps at most this many keys


@dataclass(frozen=True)
class CommonModel:
    model_id: str  # "ats.Candidate", as sync-status and webhooks name it
    table: type[CommonModelRow]
    fields: tuple[str, ...]  # the Merge fields a provider record maps to (remote_id aside)
    path: str  # the endpoints' URL segment: /api/<category>/v1/<path>
    # Fields stored encrypted, in a `<field>_encrypted` column (syncs/sensitive.py).
    sensitive: tuple[str, ...] = ()
    columns: tuple[str, ...] = field(init=False, repr=False)  # `fields` as the table names them
    # (field, None -> "", longest string kept, kind): looked up once, used for every record.
    rules: tuple[tuple[str, bool, int | None, int], ...] = field(init=False, repr=False)
    pg_types: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rules, pg_types, columns = [], {}, []
        for name in self.fields:
            stored = sensitive.column(name) if name in self.sensitive else name
            columns.append(stored)
            column = self.table._meta.get_field(stored)
            kind = _JSON if isinstance(column, models.JSONField) else _OTHER
            if kind == _JSON and column.null:  # a nullable JSON column holds an object, not a list
                kind = _OBJECT
            if isinstance(column, models.CharField):
                kind = _TEXT
            not_null = kind == _TEXT and not column.null
            rules.append((name, not_null, getattr(column, "max_length", None), kind))
            pg_types[stored] = next((t for cls, t in _PG_TYPES.items() if isinstance(column, cls)), "text")
        object.__setattr__(self, "rules", tuple(rules))
        object.__setattr__(self, "columns", tuple(columns))
        object.__setattr__(self, "pg_types", pg_types)

    @property
    def category(self) -> str:
        return self.model_id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.model_id.split(".", 1)[1]

    def normalise(self, row: dict[str, Any]) -> dict[str, Any]:
        """A mapped provider record as it is stored (and digested): see the module docstring."""
        data = {}
        for name, not_null, max_length, kind in self.rules:
            value = row.get(name)
            if value is None:
                if not_null:
                    value = ""
                elif kind == _JSON:
                    value = []
            elif isinstance(value, str):
                if "\x00" in value:
                    value = value.replace("\x00", "")
                if max_length and len(value) > max_length:
                    value = value[:max_length]
            elif kind == _OBJECT:
                if not isinstance(value, dict):
                    value = None
                elif len(value) > MAX_OBJECT_KEYS:
                    value = dict(list(value.items())[:MAX_OBJECT_KEYS])
            elif kind == _JSON:
                if not isinstance(value, list):
                    value = list(value) if isinstance(value, tuple) else []
                if len(value) > MAX_LIST_ITEMS:
                    value = value[:MAX_LIST_ITEMS]
            data[name] = value
        data["remote_id"] = normalise_remote_id(row["remote_id"])
        return data


def normalise_remote_id(value: Any) -> str:
    """A provider's record id as stored: text, no NUL characters, at most 255 characters."""
    remote_id = str(value)
    return (remote_id.replace("\x00", "") if "\x00" in remote_id else remote_id)[:255]


def strip_nul(value: Any) -> Any:
    """The value with every NUL character dropped from its strings, keys included."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strip_nul(item) for item in value]
    return value


EMPLOYEE = CommonModel(
    model_id="hris.Employee",
    table=Employee,
    fields=(
        "employee_number",
        "first_name",
        "last_name",
        "display_full_name",
        "work_email",
        "personal_email",
        "mobile_phone_number",
        "employment_status",
        "start_date",
        "termination_date",
        "remote_created_at",
        "preferred_name",
        "username",
        "gender",
        "ethnicity",
        "marital_status",
        "hire_date",
        "avatar",
        "employee_url",
        "custom_fields",
        "ssn",
        "date_of_birth",
    ),
    path="employees",
    sensitive=("ssn", "date_of_birth"),
)

CANDIDATE = CommonModel(
    model_id="ats.Candidate",
    table=Candidate,
    fields=(
        "first_name",
        "last_name",
        "company",
        "title",
        "remote_created_at",
        "remote_updated_at",
        "last_interaction_at",
        "is_private",
        "can_email",
        "locations",
        "phone_numbers",
        "email_addresses",
        "urls",
        "tags",
    ),
    path="candidates",
)

CONTACT = CommonModel(
    model_id="crm.Contact",
    table=Contact,
    fields=(
        "first_name",
        "last_name",
        "addresses",
        "email_addresses",
        "phone_numbers",
        "last_activity_at",
        "remote_created_at",
    ),
    path="contacts",
)

# Register a new model here (and its API side in syncs/serializers.py).
COMMON_MODELS: dict[str, CommonModel] = {m.model_id: m for m in (EMPLOYEE, CANDIDATE, CONTACT)}


def get(model_id: str) -> CommonModel:
    """The model for an id; KeyError for an unknown one."""
    return COMMON_MODELS[model_id]


def for_category(category: str) -> list[CommonModel]:
    """The models an account of this category syncs, in registry order."""
    return [m for m in COMMON_MODELS.values() if m.category == category]
