"""Row filters written as simple comparisons, parsed without ``eval``.

A filter is ``<column> <op> <literal>``: the column is a bare name (letters, digits, ``_``, ``.``)
or back-quoted (```days since` > 3``); the operator one of ``== != >= <= > <``; the literal a
number, ``true``/``false``, or a single- or double-quoted string (backslash escapes a quote). The
rules: numbers compare only with numeric columns and text only with text columns (so ``zip ==
02139`` against a text column is refused rather than silently matching nothing); text supports
only ``==`` and ``!=``; a row whose value is missing never passes a filter, whatever the operator
(as in SQL).
"""

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from .errors import JobInputError

_FILTER_RE = re.compile(
    r"^\s*(?P<column>`[^`]+`|[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<literal>.+?)\s*$",
    re.DOTALL,
)
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_STRING_RE = re.compile(r"""^(?P<quote>['"])(?P<body>(?:\\.|(?!(?P=quote)).)*)(?P=quote)$""")
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class RowFilter:
    """One parsed comparison; ``value`` is an int, float, bool or str."""

    column: str
    op: str
    value: int | float | bool | str

    def describe(self) -> str:
        """Canonical text of the filter (what results record)."""
        column = (
            self.column
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", self.column)
            else (f"`{self.column}`")
        )
        if isinstance(self.value, str):
            escaped = self.value.replace("\\", "\\\\").replace("'", "\\'")
            literal = f"'{escaped}'"
        elif isinstance(self.value, bool):
            literal = "true" if self.value else "false"
        else:
            literal = repr(self.value)
        return f"{column} {self.op} {literal}"

    def mask(self, df: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``df`` that pass; raises JobInputError on a bad column."""
        if self.column not in df.columns:
            raise JobInputError(
                f"Filter '{self.describe()}' names column '{self.column}', which is not in the "
                f"dataset; its columns are: {_names(df.columns)}"
            )
        series = df[self.column]
        numeric_column = is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype)
        if isinstance(self.value, str):
            if numeric_column:
                raise JobInputError(
                    f"Filter '{self.describe()}' compares numeric column '{self.column}' with the "
                    f"text '{self.value}'; write the value without quotes"
                )
            if self.op not in ("==", "!="):
                raise JobInputError(
                    f"Filter '{self.describe()}': text can only be compared with == or !="
                )
        elif not numeric_column:
            raise JobInputError(
                f"Filter '{self.describe()}' compares text column '{self.column}' with a number; "
                f"quote the value ('{self.value}') to compare text"
            )
        present = series.notna().to_numpy()
        compared = _OPERATORS[self.op](series, self.value)
        return np.asarray(compared, dtype=bool) & present


def parse_filter(text: str) -> RowFilter:
    """Parse one filter string; raises JobInputError explaining the expected form."""
    if not isinstance(text, str):
        raise JobInputError(f'A filter must be text like "age >= 18", not {text!r}')
    match = _FILTER_RE.match(text)
    if match is None:
        raise JobInputError(
            f"Filter {text!r} is not understood; write <column> <op> <value> with op one of "
            f'{", ".join(_OPERATORS)} (e.g. "days_between >= -30" or "race == \'Asian\'")'
        )
    column = match["column"]
    if column.startswith("`"):
        column = column[1:-1]
    return RowFilter(column=column, op=match["op"], value=_parse_literal(match["literal"], text))


def parse_filters(filters: Sequence[str] | None) -> list[RowFilter]:
    """Parse every filter up front so a typo fails before any data is read."""
    if filters is None:
        return []
    if isinstance(filters, str):
        filters = [filters]
    return [parse_filter(text) for text in filters]


def apply_filters(
    df: pd.DataFrame, filters: Sequence[str] | None, *, require_rows: bool = True
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Keep the rows passing every filter, in order; return them and what each filter did.

    The description is one ``{"filter", "rows_before", "rows_after"}`` per filter (canonical
    text). With ``require_rows`` (the default) a filter set that removes every row raises
    JobInputError; chunked callers pass ``False`` and check the merged total instead.
    """
    parsed = parse_filters(filters)
    described: list[dict[str, Any]] = []
    keep = np.ones(len(df), dtype=bool)
    for row_filter in parsed:
        before = int(keep.sum())
        keep &= row_filter.mask(df)
        described.append(
            {"filter": row_filter.describe(), "rows_before": before, "rows_after": int(keep.sum())}
        )
    if require_rows and parsed and len(df) > 0 and not keep.any():
        raise JobInputError(filters_removed_every_row(described, len(df)))
    filtered = df if keep.all() else df.loc[keep]
    return filtered, described


def filters_removed_every_row(described: list[dict[str, Any]], rows: int) -> str:
    """The message used when filters leave nothing (shared with chunked merges)."""
    texts = "; ".join(f"{item['filter']} (left {item['rows_after']})" for item in described)
    return f"The filters {texts} removed every row of the {rows} in the dataset"


def _parse_literal(literal: str, text: str) -> int | float | bool | str:
    if _NUMBER_RE.match(literal):
        if re.fullmatch(r"[+-]?\d+", literal):
            return int(literal)
        return float(literal)
    if literal.lower() in ("true", "false"):
        return literal.lower() == "true"
    string = _STRING_RE.match(literal)
    if string is not None:
        return re.sub(r"\\(.)", r"\1", string["body"], flags=re.DOTALL)
    raise JobInputError(
        f"Filter {text!r}: the value {literal} must be a number, true/false, or a quoted string "
        f"such as 'Medium'"
    )


def _names(columns: Any, limit: int = 30) -> str:
    names = [str(name) for name in columns]
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
