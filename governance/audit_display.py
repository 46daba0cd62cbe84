"""How an audit event reads on a page: its before/after field by field, and the payload's other
facts in words. Presentation only (no queries); the record itself is never changed."""

from __future__ import annotations

import json
from typing import Any

from governance.choices import role_label

_MISSING = object()
_CHANGE_KEYS = ("before", "after")


def field_label(key: str) -> str:
    """`signed_off_revision` -> "Signed off revision"; dotted paths keep their dots."""
    return " › ".join(p.replace("_", " ").strip().capitalize() or p for p in str(key).split("."))


def value_text(value: Any) -> str:
    """A recorded value as text: "—" for nothing, yes/no, lists joined, objects as compact JSON."""
    if value is _MISSING or value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
    ):
        return ", ".join(str(v) for v in value) if value else "—"
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _walk(before: Any, after: Any, prefix: str, rows: list[dict[str, str]]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(dict.fromkeys([*after, *before])):
            _walk(before.get(key, _MISSING), after.get(key, _MISSING),
                  f"{prefix}.{key}" if prefix else str(key), rows)
        return
    if before == after:
        return
    kind = "added" if before is _MISSING else "removed" if after is _MISSING else "changed"
    key = prefix.rsplit(".", 1)[-1]
    old, new = _text(key, before), _text(key, after)
    if old == new:  # nothing a reader could tell apart (an empty value added or removed)
        return
    rows.append({"field": field_label(prefix) if prefix else "Value", "key": prefix,
                 "before": old, "after": new, "kind": kind})


def _text(key: str, value: Any) -> str:
    """A value as text; role slugs (fields named role, roles, …_roles) by their labels."""
    if key in _ROLE_KEYS or key.endswith("_roles"):
        if isinstance(value, str):
            return role_label(value)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return ", ".join(role_label(v) for v in value) if value else "—"
    return value_text(value)


_ROLE_KEYS = {"role", "roles", "required_roles", "actor_roles"}


def payload_changes(payload: Any) -> list[dict[str, str]]:
    """The fields that differ between the payload's `before` and `after`, nested objects by their
    dotted path: [{"field", "key", "before", "after", "kind": added|removed|changed}]. An event
    with only `after` (a creation) lists every field as added."""
    if not isinstance(payload, dict) or not any(k in payload for k in _CHANGE_KEYS):
        return []
    before, after = payload.get("before"), payload.get("after")
    rows: list[dict[str, str]] = []
    if before is None and isinstance(after, dict):
        before = {}
    if after is None and isinstance(before, dict):
        after = {}
    _walk(before if before is not None else _MISSING, after if after is not None else _MISSING,
          "", rows)
    return rows


def payload_details(payload: Any) -> list[tuple[str, str]]:
    """The payload's other facts (reason, comment, section, revision …) as (label, text)."""
    if not isinstance(payload, dict):
        return [] if payload in (None, "", {}) else [("Value", value_text(payload))]
    return [(field_label(k), _text(k, v)) for k, v in payload.items()
            if k not in _CHANGE_KEYS and v not in (None, "", [], {})]


def role_labels(roles: Any) -> list[str]:
    return [role_label(r) for r in (roles or [])]
