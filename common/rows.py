"""Model instances from rows read with plain SQL, for the few hot paths that measured the ORM's
query compilation as their main cost (see docs/BENCHMARKS.md). The values get the converters a
queryset would apply (JSON, dates on SQLite, ...), so the instance is what the ORM would build."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def prepared_cursor():
    """A cursor for a hot statement run on every request of its kind: on PostgreSQL bound on
    the server and prepared once per connection (common/db/postgresql), elsewhere the ordinary
    cursor. Explicit column lists only (no `SELECT *`)."""
    make = getattr(connection, "prepared_cursor", None)
    return make() if make is not None else connection.cursor()


def columns(model: type[Model], alias: str = "") -> tuple[list[Field], str]:
    """(concrete fields, their quoted column list, prefixed with `alias.` when given)."""
    fields = list(model._meta.concrete_fields)
    prefix = f"{alias}." if alias else ""
    return fields, ", ".join(prefix + connection.ops.quote_name(f.column) for f in fields)


def instance(model: type[Model], fields: Sequence[Field], values: Sequence[Any]) -> Model:
    """The saved instance of `model` whose `fields` hold the raw `values` of one row."""
    converted = []
    for field, value in zip(fields, values, strict=True):
        col = field.get_col(model._meta.db_table)
        for convert in connection.ops.get_db_converters(col) + field.get_db_converters(connection):
            value = convert(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)
