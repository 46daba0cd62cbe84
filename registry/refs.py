"""Parsing and resolving "name@version" references to dataset and model versions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import Model

from common.errors import ValidationFailed

REF_RE = re.compile(r"^(?P<name>[-a-zA-Z0-9_]+)@(?P<version>[1-9][0-9]*)$")


@dataclass(frozen=True)
class Resolved:
    """A reference that exists: the row's primary key and its canonical "name@version"."""

    pk: int
    ref: str


def parse_ref(ref: str, *, field: str) -> tuple[str, int]:
    match = REF_RE.match(str(ref).strip())
    if not match:
        msg = f"{ref!r} is not a reference of the form NAME@VERSION (e.g. credit-data@2)."
        raise ValidationFailed(msg, errors={field: [msg]})
    return match["name"], int(match["version"])


def resolve(
    model: type[Model],
    refs_by_field: dict[str, list[str]],
    *,
    parent: str,
    kind: str,
    unknown: dict[str, list[str]],
) -> dict[str, list[Resolved]]:
    """Resolve the references of several fields with one query (ids and names only). Unknown
    references are added to `unknown` under their field (see `raise_unknown`) and left out.
    Duplicates within a field collapse to one, in first-seen order."""
    pairs = {field: [parse_ref(r, field=field) for r in refs] for field, refs in refs_by_field.items()}
    wanted = sorted({pair for field_pairs in pairs.values() for pair in field_pairs})
    found: dict[tuple[str, int], int] = {}
    if wanted:
        found = {(name, version): pk for name, version, pk in _lookup(model, parent, wanted)}
    resolved = {}
    for field, field_pairs in pairs.items():
        missing = [f"Unknown {kind} {n}@{v}." for n, v in field_pairs if (n, v) not in found]
        if missing:
            unknown.setdefault(field, []).extend(missing)
        resolved[field] = [
            Resolved(found[pair], f"{pair[0]}@{pair[1]}")
            for pair in dict.fromkeys(field_pairs) if pair in found
        ]
    return resolved


def _lookup(model: type[Model], parent: str, wanted: list[tuple[str, int]]) -> list[tuple]:
    """(name, version, pk) of the wanted versions, in one plain query: registration runs this on
    every call and the ORM would spend longer building it than the database spends answering."""
    fk = model._meta.get_field(parent)
    matches = ", ".join(["(%s, %s)"] * len(wanted))
    sql = (
        f"SELECT p.name, v.version, v.id FROM {model._meta.db_table} v "
        f"JOIN {fk.related_model._meta.db_table} p ON p.id = v.{fk.column} "
        f"WHERE (p.name, v.version) IN ({matches})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [x for pair in wanted for x in pair])
        return cursor.fetchall()


def raise_unknown(unknown: dict[str, list[str]]) -> None:
    """A 400 naming every unknown reference, each under its field."""
    if unknown:
        listed = "; ".join(m.rstrip(".") for messages in unknown.values() for m in messages)
        raise ValidationFailed(f"{listed}.", errors=unknown)
