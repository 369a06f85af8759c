"""One-row reads by equality for the lookups every API request makes (the account behind an
X-Account-Token, a synced record by id): the same model instance the ORM would return, every
field loaded and read afresh on each call (nothing is cached but the SQL text).

The ORM builds and compiles a queryset to SQL on every evaluation; for a one-row lookup by an
indexed column that was three quarters of the lookup's CPU time (0.6 of 0.8 ms, measured with
scripts/load_drill/profile_requests.py). Here the SELECT list, each WHERE clause and the value
converters of a model are built once per database, the query runs through Django's own cursor
(so query counting, error wrapping and connection health checks still apply), and the row
becomes an instance through `Model.from_db`, as the ORM makes it.

Hand-written: Django has no prepared-query API, and `QuerySet.raw()` still resolves its columns
and converters on every call.
"""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class _Plan:
    sql: str
    where_fields: tuple[Field, ...]
    # (column index, converters, expression) for the columns the backend or field converts.
    converters: tuple[tuple[int, list, Any], ...]


class RowReader(Generic[M]):
    """`RowReader(Model).first(field=value, ...)`: the row whose fields equal the values (the
    caller makes sure at most one does: a unique column or the primary key), or None."""

    def __init__(self, model: type[M]):
        self.model = model
        self.fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in self.fields]
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan] = {}

    def _plan(self, connection, names: tuple[str, ...]) -> _Plan:
        quote = connection.ops.quote_name
        table = self.model._meta.db_table
        where_fields = tuple(self.model._meta.get_field(name) for name in names)
        columns = ", ".join(quote(field.column) for field in self.fields)
        where = " AND ".join(f"{quote(field.column)} = %s" for field in where_fields)
        converters = []
        for index, field in enumerate(self.fields):
            column = field.get_col(table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                converters.append((index, found, column))
        return _Plan(
            # Identifiers from the model, quoted; values are always parameters.
            sql=f"SELECT {columns} FROM {quote(table)} WHERE {where} LIMIT 1",  # noqa: S608
            where_fields=where_fields,
            converters=tuple(converters),
        )

    def first(self, **equals: Any) -> M | None:
        connection = connections[DEFAULT_DB_ALIAS]
        key = (connection.alias, tuple(equals))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(connection, key[1])
        params = [
            field.get_db_prep_value(value, connection, prepared=False)
            for field, value in zip(plan.where_fields, equals.values(), strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if plan.converters:
            row = list(row)
            for index, converters, expression in plan.converters:
                value = row[index]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[index] = value
        return self.model.from_db(connection.alias, self.attnames, row)
