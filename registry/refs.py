"""Parsing and resolving "name@version" references to dataset and model versions."""

from __future__ import annotations

import re
from functools import reduce
from operator import or_

from django.db.models import Q

from common.errors import ValidationFailed

REF_RE = re.compile(r"^(?P<name>[-a-zA-Z0-9_]+)@(?P<version>[1-9][0-9]*)$")


def parse_ref(ref: str, *, field: str) -> tuple[str, int]:
    match = REF_RE.match(str(ref).strip())
    if not match:
        msg = f"{ref!r} is not a reference of the form NAME@VERSION (e.g. credit-data@2)."
        raise ValidationFailed(msg, errors={field: [msg]})
    return match["name"], int(match["version"])


def resolve(queryset, refs: list[str], *, field: str, parent: str, kind: str) -> list:
    """Resolve refs with one query; unknown refs are a 400 naming every bad reference."""
    if not refs:
        return []
    pairs = [parse_ref(r, field=field) for r in refs]
    query = reduce(or_, (Q(**{f"{parent}__name": n, "version": v}) for n, v in pairs))
    found = {(getattr(obj, parent).name, obj.version): obj for obj in queryset.filter(query)}
    missing = [f"{n}@{v}" for n, v in pairs if (n, v) not in found]
    if missing:
        msg = f"Unknown {kind} reference(s): {', '.join(missing)}."
        raise ValidationFailed(msg, errors={field: [f"Unknown {kind} {m}." for m in missing]})
    seen: dict = {}
    for pair in pairs:
        seen.setdefault(pair, found[pair])
    return list(seen.values())
