"""Model instances from rows read with plain SQL, for the few hot paths that measured the ORM's
query compilation as their main cost (see docs/BENCHMARKS.md). The values get the converters a
queryset would apply (JSON, dates on SQLite, ...), so the instance is what the ORM would build."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import DEFERRED, Field, Model


def prepared_cursor():
    """A cursor for a hot statement run on every request of its kind: on PostgreSQL bound on
    the server and prepared once per connection (common/db/postgresql), elsewhere the ordinary
    cursor. Explicit column lists only (no `SELECT *`)."""
    make = getattr(connection, "prepared_cursor", None)
    return make() if make is not None else connection.cursor()


def columns(model: type[Model], alias: str = "") -> tuple[list[Field], str]:
    """(concrete fields, their quoted column list, prefixed with `alias.` when given), built
    once per model, alias and database."""
    conn = connections[DEFAULT_DB_ALIAS]
    key = (conn.vendor, model, alias)
    found = _COLUMNS.get(key)
    if found is None:
        fields = list(model._meta.concrete_fields)
        prefix = f"{alias}." if alias else ""
        found = _COLUMNS[key] = (fields, ", ".join(prefix + conn.ops.quote_name(f.column)
                                                   for f in fields))
    return list(found[0]), found[1]


_COLUMNS: dict[tuple, tuple[list[Field], str]] = {}


def instance(model: type[Model], fields: Sequence[Field], values: Sequence[Any]) -> Model:
    """The saved instance of `model` whose `fields` hold the raw `values` of one row."""
    conn = connections[DEFAULT_DB_ALIAS]
    converters = _converters(conn, model, tuple(fields))
    converted = []
    for value, (col, convert_all) in zip(values, converters, strict=True):
        for convert in convert_all:
            value = convert(value, col, conn)
        converted.append(value)
    return model.from_db(conn.alias, [f.attname for f in fields], converted)


_CONVERTERS: dict[tuple, list] = {}


def _converters(conn, model: type[Model], fields: tuple[Field, ...]) -> list:
    """Each field's column and the converters a queryset would apply to it, found once per
    model, field list and database (they depend on nothing else)."""
    key = (conn.vendor, model, fields)
    found = _CONVERTERS.get(key)
    if found is None:
        found = []
        for field in fields:
            col = field.get_col(model._meta.db_table)
            found.append((col, conn.ops.get_db_converters(col) + field.get_db_converters(conn)))
        _CONVERTERS[key] = found
    return found


def partial(model: type[Model], **values: Any) -> Model:
    """A saved instance of `model` that holds only `values` (attnames, already Python values),
    to stand in for a related row of which a rendering needs a field or two. Its other fields
    are deferred: reading one loads it, as on `.only()`, never a made-up default."""
    attnames = _attnames(model)
    unknown = values.keys() - set(attnames)
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    return model.from_db(connections[DEFAULT_DB_ALIAS].alias, attnames,
                         [values.get(a, DEFERRED) for a in attnames])


@functools.cache
def _attnames(model: type[Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]
