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


@dataclass(frozen=True)
class RefGroup:
    """References of one kind: `model` rows named by their `parent`'s name and a version,
    listed per request field."""

    model: type[Model]
    parent: str
    kind: str
    refs_by_field: dict[str, list[str]]


def resolve(*groups: RefGroup) -> dict[str, list[Resolved]]:
    """Resolve every field's references, of every kind, with one query (ids and names only):
    registration runs this on every call. Unknown references are one 400 naming each under its
    field. Duplicates within a field collapse to one, in first-seen order."""
    pairs = [
        {field: [parse_ref(r, field=field) for r in refs] for field, refs in g.refs_by_field.items()}
        for g in groups
    ]
    wanted = [sorted({p for field_pairs in gp.values() for p in field_pairs}) for gp in pairs]
    found: dict[tuple[int, str, int], int] = {
        (index, name, version): pk for index, name, version, pk in _lookup(groups, wanted)
    }
    resolved: dict[str, list[Resolved]] = {}
    unknown: dict[str, list[str]] = {}
    for index, (group, group_pairs) in enumerate(zip(groups, pairs, strict=True)):
        for field, field_pairs in group_pairs.items():
            missing = [(n, v) for n, v in dict.fromkeys(field_pairs) if (index, n, v) not in found]
            if missing:
                unknown[field] = [f"Unknown {group.kind} {n}@{v}." for n, v in missing]
            resolved[field] = [
                Resolved(found[(index, n, v)], f"{n}@{v}")
                for n, v in dict.fromkeys(field_pairs) if (index, n, v) in found
            ]
    if unknown:
        listed = "; ".join(m.rstrip(".") for messages in unknown.values() for m in messages)
        raise ValidationFailed(f"{listed}.", errors=unknown)
    return resolved


def _lookup(groups: tuple[RefGroup, ...], wanted: list[list[tuple[str, int]]]) -> list[tuple]:
    """(group index, name, version, pk) of the wanted rows: one plain UNION ALL query, since
    the ORM would spend longer building it than the database spends answering."""
    selects, params = [], []
    for index, (group, pairs) in enumerate(zip(groups, wanted, strict=True)):
        if not pairs:
            continue
        fk = group.model._meta.get_field(group.parent)
        selects.append(
            f"SELECT {index}, p.name, v.version, v.id FROM {group.model._meta.db_table} v "
            f"JOIN {fk.related_model._meta.db_table} p ON p.id = v.{fk.column} "
            f"WHERE (p.name, v.version) IN ({', '.join(['(%s, %s)'] * len(pairs))})"
        )
        params.extend(x for pair in pairs for x in pair)
    if not selects:
        return []
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        return cursor.fetchall()
