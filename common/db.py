"""Small portable query expressions (PostgreSQL and SQLite)."""

from __future__ import annotations

from django.db.models import CharField, Subquery


class JoinedValues(Subquery):
    """The values of a one-column subquery, comma-joined into one column of the outer row
    (NULL when there are none): a short list read with its row instead of a query of its own.
    The subquery must name its column `value`, e.g. `.values(value=F("role"))`; values must not
    contain commas."""

    output_field = CharField()

    def as_sql(self, compiler, connection, template=None, **extra_context):
        sql, params = super().as_sql(compiler, connection, template, **extra_context)
        joined = (
            "string_agg(CAST(_joined.value AS text), ',')" if connection.vendor == "postgresql"
            else "group_concat(_joined.value, ',')"
        )
        return f"(SELECT {joined} FROM {sql} _joined)", params


def split_joined(value: str | None) -> list[str]:
    return value.split(",") if value else []
