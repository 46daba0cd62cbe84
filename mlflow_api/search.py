"""MLflow's search syntax for the common cases, turned into ORM filters.

filter: comparisons joined by AND — `name = 'x'`, `name LIKE 'credit-%'`, `name ILIKE '%Fraud%'`,
`tags.team = 'credit'` (also tags.`a key` with backticks), `name IN ('a', 'b')`, and for versions `run_id`,
`source_path`, `version_number` (also <, <=, >, >=). order_by: `name`, `creation_timestamp`,
`last_updated_timestamp` (`timestamp`), `version_number`, each with ASC or DESC.
page_token: an opaque offset, as MLflow's own server issues.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce

from mlflow_api.models import ModelTag, VersionTag
from mlflow_api.protocol import invalid

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<bt>`[^`]*`)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>!=|<=|>=|=|<|>|\(|\)|,)
    | (?P<num>-?\d+(?:\.\d+)?(?![A-Za-z_]))
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]*)*)
    )""",
    re.X,
)
_KEYWORDS = {"AND", "LIKE", "ILIKE", "IN", "NOT"}


@dataclass(frozen=True)
class Comparison:
    field: str  # "name", "run_id", "source_path", "version_number", "tags"
    key: str  # the tag key for "tags"
    op: str  # =, !=, LIKE, ILIKE, IN, NOT IN, <, <=, >, >=
    value: object  # str, int, or a tuple for IN


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body) if token[0] in "'\"" else body


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos, text = [], 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise invalid(f"Invalid filter {text!r}: cannot read it from {text[pos:pos + 20]!r}.")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "word" and value.upper() in _KEYWORDS:
            kind, value = "kw", value.upper()
        out.append((kind, value))
        pos = match.end()
    return out


def _identifier(tokens: list, i: int, allowed: set[str], text: str) -> tuple[str, str, int]:
    kind, value = tokens[i]
    if kind == "word" and value.endswith(".") and i + 1 < len(tokens) and tokens[i + 1][0] in ("bt", "str"):
        prefix, key, i = value[:-1], _unquote(tokens[i + 1][1]), i + 2
    elif kind == "word":
        prefix, _, key = value.partition(".")
        i += 1
    elif kind == "bt":
        prefix, key, i = _unquote(value), "", i + 1
    else:
        raise invalid(f"Invalid filter {text!r}: expected a field name, found {value!r}.")
    prefix = prefix.lower()
    if prefix in ("tag", "tags"):
        if not key:
            raise invalid(f"Invalid filter {text!r}: a tag needs a key, e.g. tags.team = 'credit'.")
        return "tags", key, i
    if prefix == "attributes":
        prefix = key.lower()
    if prefix not in allowed:
        raise invalid(
            f"Invalid filter {text!r}: unknown field {prefix!r}; use "
            f"{', '.join(sorted(allowed | {'tags.<key>'}))}."
        )
    return prefix, "", i


def _value(tokens: list, i: int, text: str) -> tuple[object, int]:
    if i >= len(tokens):
        raise invalid(f"Invalid filter {text!r}: a comparison has no value.")
    kind, value = tokens[i]
    if kind == "str":
        return _unquote(value), i + 1
    if kind == "num":
        return (float(value) if "." in value else int(value)), i + 1
    raise invalid(f"Invalid filter {text!r}: expected a quoted value, found {value!r}.")


def parse_filter(text: str | None, *, fields: set[str]) -> list[Comparison]:
    """`a = 'x' AND tags.k LIKE 'y%'` → comparisons; anything else is INVALID_PARAMETER_VALUE."""
    if not text or not text.strip():
        return []
    tokens = _tokens(text)
    out: list[Comparison] = []
    i = 0
    while True:
        field, key, i = _identifier(tokens, i, fields, text)
        if i >= len(tokens):
            raise invalid(f"Invalid filter {text!r}: a comparison has no operator.")
        kind, op = tokens[i]
        if kind == "kw" and op == "NOT" and i + 1 < len(tokens) and tokens[i + 1] == ("kw", "IN"):
            op, i = "NOT IN", i + 1
        if kind not in ("op", "kw") or op not in {"=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN"}:
            raise invalid(f"Invalid filter {text!r}: unknown operator {op!r}.")
        i += 1
        if op in ("IN", "NOT IN"):
            if i >= len(tokens) or tokens[i] != ("op", "("):
                raise invalid(f"Invalid filter {text!r}: IN needs a list like ('a', 'b').")
            values, i = [], i + 1
            while True:
                value, i = _value(tokens, i, text)
                values.append(str(value) if field != "version_number" else value)
                if i < len(tokens) and tokens[i] == ("op", ","):
                    i += 1
                    continue
                if i < len(tokens) and tokens[i] == ("op", ")"):
                    i += 1
                    break
                raise invalid(f"Invalid filter {text!r}: unclosed IN list.")
            out.append(Comparison(field, key, op, tuple(values)))
        else:
            value, i = _value(tokens, i, text)
            if op in ("<", "<=", ">", ">=") and field != "version_number":
                raise invalid(f"Invalid filter {text!r}: {op} only compares version_number.")
            if field == "version_number" and not isinstance(value, int):
                value = _int(value, text)
            elif field != "version_number":
                value = str(value)
            out.append(Comparison(field, key, op, value))
        if i >= len(tokens):
            return out
        if tokens[i] != ("kw", "AND"):
            raise invalid(f"Invalid filter {text!r}: join comparisons with AND (OR is not supported).")
        i += 1


def _int(value: object, text: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise invalid(f"Invalid filter {text!r}: version_number must be a whole number.") from None


def like_regex(pattern: str) -> str:
    """SQL LIKE (% and _) as an anchored regular expression both databases understand."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return "^" + "".join(out) + "$"


def _lookup(column: str, op: str, value: object) -> Q:
    if op == "=":
        return Q(**{column: value})
    if op == "!=":
        return ~Q(**{column: value})
    if op == "LIKE":
        return Q(**{f"{column}__regex": like_regex(str(value))})
    if op == "ILIKE":
        return Q(**{f"{column}__iregex": like_regex(str(value))})
    if op == "IN":
        return Q(**{f"{column}__in": list(value)})
    if op == "NOT IN":
        return ~Q(**{f"{column}__in": list(value)})
    suffix = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}[op]
    return Q(**{f"{column}__{suffix}": value})


def _tag_exists(tag_model, owner_field: str, cmp: Comparison):
    """A tag comparison. `!=` / `NOT IN` also match rows without the tag, as MLflow's server
    does (the client itself adds a "prompt tag != 'true'" clause to every search)."""
    tags = tag_model.objects.filter(**{owner_field: OuterRef("pk")}, key=cmp.key)
    if cmp.op in ("!=", "NOT IN"):
        positive = "=" if cmp.op == "!=" else "IN"
        return ~Exists(tags.filter(_lookup("value", positive, cmp.value)))
    return Exists(tags.filter(_lookup("value", cmp.op, cmp.value)))


MODEL_FIELDS = {"name"}
VERSION_FIELDS = {"name", "run_id", "source_path", "version_number"}


def model_conditions(comparisons: list[Comparison]) -> list:
    out = []
    for cmp in comparisons:
        if cmp.field == "tags":
            out.append(_tag_exists(ModelTag, "model", cmp))
        else:
            out.append(_lookup("name", cmp.op, cmp.value))
    return out


def version_conditions(comparisons: list[Comparison]) -> list:
    columns = {"name": "model__name", "run_id": "provenance__run_id", "version_number": "version"}
    out = []
    for cmp in comparisons:
        if cmp.field == "tags":
            out.append(_tag_exists(VersionTag, "version", cmp))
        elif cmp.field == "source_path":
            out.append(_lookup("source_path", cmp.op, cmp.value))
        else:
            out.append(_lookup(columns[cmp.field], cmp.op, cmp.value))
    return out


def annotate_versions(qs: QuerySet) -> QuerySet:
    """`source_path` (MLflow's source, or Gatehouse's artifact URI) and `updated_at` for sorting."""
    from django.db.models import CharField, F
    from django.db.models.fields.json import KeyTextTransform

    return qs.annotate(
        source_path=Coalesce(KeyTextTransform("source", "provenance"), F("artifact_uri"),
                             output_field=CharField()),
        last_updated=Coalesce("stage_changed_at", "created_at"),
    )


# --- ordering and pages -------------------------------------------------------------------

MODEL_ORDER = {"name": "name", "creation_timestamp": "created_at",
               "last_updated_timestamp": "updated_at", "timestamp": "updated_at"}
VERSION_ORDER = {"name": "model__name", "version_number": "version",
                 "creation_timestamp": "created_at", "last_updated_timestamp": "last_updated",
                 "timestamp": "last_updated"}


def order_by(clauses: list[str], columns: dict[str, str], default: list[str]) -> list[str]:
    out: list[str] = []
    for clause in clauses or []:
        parts = str(clause).split()
        if not parts or len(parts) > 2 or parts[0] not in columns:
            raise invalid(
                f"Invalid order_by clause {clause!r}: use one of {', '.join(sorted(columns))} "
                "with ASC or DESC."
            )
        direction = parts[1].upper() if len(parts) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise invalid(f"Invalid order_by clause {clause!r}: the direction is ASC or DESC.")
        out.append(("-" if direction == "DESC" else "") + columns[parts[0]])
    for column in default:
        if column.lstrip("-") not in {c.lstrip("-") for c in out}:
            out.append(column)
    return [*out, "pk"]


def decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.b64decode(token.encode(), validate=True))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise invalid("Invalid page token: it was not issued by this server.") from None
    if not isinstance(offset, int) or offset < 0:
        raise invalid("Invalid page token: it was not issued by this server.")
    return offset


def encode_page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def page(qs: QuerySet, *, max_results: int, page_token: str | None,
         limit: int, render: Callable[[list], list]) -> tuple[list, str]:
    """One page of `qs` (max_results + 1 rows read to know whether another page follows)."""
    if not 1 <= max_results <= limit:
        raise invalid(f"Invalid value {max_results} for max_results: it must be between 1 and {limit}.")
    offset = decode_page_token(page_token)
    rows = list(qs[offset:offset + max_results + 1])
    token = encode_page_token(offset + max_results) if len(rows) > max_results else ""
    return render(rows[:max_results]), token
