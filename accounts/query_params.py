"""The one rule for every endpoint's query string: a parameter either works or is refused.

An endpoint declares its query as a `QueryParams` serializer:
- each declared field is a parameter Relink supports (validated by the field, so a bad value is
  a 400 naming the parameter);
- `not_supported` names the parameters Merge documents for the endpoint that Relink does not
  implement: sending one is a 400 that names it and says it is not supported;
- `lookups` maps a filter parameter to the ORM lookup it applies on the endpoint's rows
  (`{"created_after": "created_at__gt"}`), so a list's selector filters by the declaration
  instead of by hand, one argument per parameter.
Any other parameter is a 400 ("unknown"). Nothing is silently ignored: a client that filters on
the server and trusts the answer never gets the unfiltered list. docs/parameters.md is the
per-endpoint table (tests/conformance keeps it in step with these declarations).

Hand-written: DRF validates the fields a serializer declares and drops everything else; the
refusal of undeclared keys and the Merge-documented-but-unsupported list are ours.
"""

import threading
from typing import Any, ClassVar

from rest_framework import serializers


class QueryParams(serializers.Serializer):
    not_supported: ClassVar[tuple[str, ...]] = ()
    lookups: ClassVar[dict[str, str]] = {}


def not_supported_message(name: str) -> str:
    return f"{name} is not supported by Relink."


def unknown_message(name: str) -> str:
    return f"{name} is not a query parameter of this endpoint."


class TrueNotSupported(serializers.ChoiceField):
    """A documented boolean option whose `false` (Merge's default) is what Relink always does:
    `false` is accepted, `true` is refused as not supported rather than ignored."""

    default_error_messages = {"true": "true is not supported by Relink: omit the parameter or send false."}

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Not supported: only false (the default) is accepted.")
        super().__init__(choices=["true", "false", "True", "False", "1", "0"], **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value in ("true", "True", "1"):
            self.fail("true")
        return False


_prototypes = threading.local()


def _prototype(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """One instance of the serializer per class and thread, its fields built once: DRF builds a
    serializer's fields by deep-copying every declared field on each instantiation, which was a
    fifth of the CPU time of a small API read. Validation (`run_validation`) keeps no state on
    the instance, and a thread of its own keeps even that assumption out of reach of others."""
    by_class = getattr(_prototypes, "by_class", None)
    if by_class is None:
        by_class = _prototypes.by_class = {}
    instance = by_class.get(serializer_class)
    if instance is None:
        instance = serializer_class()
        instance.fields  # noqa: B018 (built here, once)
        by_class[serializer_class] = instance
    return instance


def query_data(serializer_class: type[serializers.Serializer], query) -> dict[str, Any]:
    """The query as the serializer's input, with every undeclared key a 400 naming it."""
    fields = _prototype(serializer_class).fields
    not_supported = getattr(serializer_class, "not_supported", ())
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key in query:
        if key not in fields:
            errors[key] = [not_supported_message(key) if key in not_supported else unknown_message(key)]
            continue
        values = query.getlist(key)
        data[key] = values[-1] if len(values) == 1 else values
    if errors:
        raise serializers.ValidationError(errors)
    return data


def query_validate(serializer_class: type[serializers.Serializer], query) -> dict[str, Any]:
    """The validated query: what `serializer_class(data=query_data(...))` gives after
    `is_valid(raise_exception=True)`, the same values and the same 400 on a bad one."""
    return _prototype(serializer_class).run_validation(query_data(serializer_class, query))


def query_filters(serializer_class: type[serializers.Serializer], params: dict[str, Any]) -> dict[str, Any]:
    """The ORM filter of the validated parameters the serializer maps to lookups."""
    lookups = getattr(serializer_class, "lookups", {})
    return {lookups[name]: value for name, value in params.items() if name in lookups}


_OPERATORS = {"gt": ">", "lt": "<"}


def parameter_table(serializer_class: type[serializers.Serializer]) -> list[tuple[str, str]]:
    """(parameter, what Relink does with it) for the docs, in name order."""
    lookups = getattr(serializer_class, "lookups", {})
    rows = []
    for name, field in serializer_class().fields.items():
        if isinstance(field, TrueNotSupported):
            rows.append((name, "`false` only; `true` is a 400 (not supported)"))
        elif name in lookups:
            column, _, operator = lookups[name].partition("__")
            rows.append((name, f"filters: `{column}` {_OPERATORS.get(operator, '=')} value"))
        else:
            rows.append((name, "supported"))
    rows += [(name, "400: not supported") for name in getattr(serializer_class, "not_supported", ())]
    return sorted(rows)


def parameters_markdown(endpoints: list[tuple[str, type[serializers.Serializer]]]) -> str:
    """The per-endpoint parameter tables of docs/parameters.md."""
    parts = []
    for title, serializer_class in endpoints:
        parts.append(f"### `{title}`\n\n| parameter | Relink |\n|---|---|")
        parts += [f"| `{name}` | {what} |" for name, what in parameter_table(serializer_class)]
        parts.append("")
    return "\n".join(parts)
