"""Group fairness from confusion counts: the summable core of the fairness runner.

The rules:

- Everything is computed from per-group confusion counts ``[n, tp, fp, tn, fn]``; counts of chunks
  add up, so a chord can count chunks on many workers and ``merge_fairness_counts`` them. The
  numbers equal fairlearn's ``MetricFrame`` and its ``demographic_parity_difference``,
  ``demographic_parity_ratio`` and ``equalized_odds_difference`` (between groups, worst case).
- Groups are each attribute's distinct values (missing values form the group ``(missing)``) and,
  with two or more attributes, the cells of every pair of attributes.
- A rate with a zero denominator is reported as ``None`` for the group; in the summary metrics
  it counts as 0, as fairlearn does, and a warning says so.
- A metric with a threshold passes when ``min <= value <= max`` (either bound optional); a
  metric that cannot be computed fails. The result passes only when every thresholded metric, of
  every attribute and every intersection, passes. Groups smaller than ``min_group_size`` stay in
  the metrics but are flagged ``small_group`` and listed in the warnings.
"""

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from governance.fairness import FAIRNESS_METRICS

from .errors import JobInputError
from .filters import filters_removed_every_row
from .jsonable import to_jsonable

MISSING_GROUP = "(missing)"
METRICS = FAIRNESS_METRICS  # the vocabulary is governance's (tier policies validate against it)
_FIELDS = ("n", "tp", "fp", "tn", "fn")


def fairness_counts(
    y_true: Any,
    y_pred: Any,
    sensitive: pd.DataFrame | pd.Series,
    *,
    population: Mapping[str, Any] | None = None,
    coded: Mapping[str, tuple[np.ndarray, list[str]]] | None = None,
) -> dict[str, Any]:
    """Confusion counts per group (JSON-serialisable; see ``merge_fairness_counts``).

    ``y_true`` and ``y_pred`` hold 0/1 (or booleans); ``sensitive`` one column per attribute;
    ``coded`` its ``code_columns`` when the caller already has them.
    """
    truth = binary_array(y_true, "outcome")
    predicted = binary_array(y_pred, "prediction")
    frame = sensitive.to_frame() if isinstance(sensitive, pd.Series) else sensitive
    if not isinstance(frame, pd.DataFrame) or frame.shape[1] == 0:
        raise JobInputError("At least one sensitive attribute column is needed")
    if not len(truth) == len(predicted) == len(frame):
        raise JobInputError(
            f"Outcomes ({len(truth)}), predictions ({len(predicted)}) and sensitive attributes "
            f"({len(frame)}) have different numbers of rows"
        )
    cell = truth.view(np.int8) * np.int8(2) + predicted.view(np.int8)
    coded = coded if coded is not None else code_columns(frame)
    attributes = {
        name: _count(codes, len(labels), cell, [[label] for label in labels])
        for name, (codes, labels) in coded.items()
    }
    intersections = []
    for first, second in combinations(coded, 2):
        codes_a, labels_a = coded[first]
        codes_b, labels_b = coded[second]
        keys = [[a, b] for a in labels_a for b in labels_b]
        combined = codes_a * np.int32(len(labels_b)) + codes_b
        counted = _count(combined, len(keys), cell, keys)
        intersections.append({"attributes": [first, second], "groups": counted})
    rows = len(truth)
    return {
        "rows": rows,
        "attributes": attributes,
        "intersections": intersections,
        "population": dict(population) if population else {"rows_before": rows, "filters": []},
    }


def merge_fairness_counts(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum counts of chunks of one dataset (same attributes and filters)."""
    merged: dict[str, Any] | None = None
    for part in parts:
        part = json.loads(json.dumps(part))  # a deep copy that also normalises tuples
        if merged is None:
            merged = part
            continue
        if list(part["attributes"]) != list(merged["attributes"]):
            raise ValueError("fairness count chunks disagree on the sensitive attributes")
        merged["rows"] += part["rows"]
        for name, groups in part["attributes"].items():
            _add_groups(merged["attributes"][name], groups)
        for mine, theirs in zip(merged["intersections"], part["intersections"], strict=True):
            _add_groups(mine["groups"], theirs["groups"])
        _add_population(merged["population"], part["population"])
    if merged is None:
        raise ValueError("no fairness count chunks to merge")
    return merged


def fairness_from_counts(
    counts: Mapping[str, Any],
    *,
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    min_group_size: int = 30,
) -> dict[str, Any]:
    """The fairness result (shape in ``fairness.run_fairness``) from (merged) counts."""
    checked = validate_thresholds(thresholds)
    population = dict(counts.get("population") or {})
    rows = int(counts["rows"])
    if rows == 0:
        filters = population.get("filters") or []
        if filters and population.get("rows_before") and not filters[-1]["rows_after"]:
            raise JobInputError(filters_removed_every_row(filters, population["rows_before"]))
        if population.get("rows_dropped_missing"):
            raise JobInputError(
                f"All {population['rows_dropped_missing']} rows left after filtering lack a "
                "prediction, outcome or label value"
            )
        raise JobInputError("The dataset has no rows")
    warnings: list[str] = list(population.pop("warnings", []) or [])
    attributes = {
        name: _evaluate(name, [name], groups, checked, min_group_size, warnings)
        for name, groups in counts["attributes"].items()
    }
    intersections = {}
    for item in counts["intersections"]:
        first, second = item["attributes"]
        name = f"{first} & {second}"
        intersections[name] = _evaluate(
            name, [first, second], item["groups"], checked, min_group_size, warnings
        )
    first_attribute = next(iter(counts["attributes"].values()))
    n, tp, fp, _, _ = np.sum(list(first_attribute.values()), axis=0)
    selected = (tp + fp) / n
    if selected in (0.0, 1.0):
        warnings.append(
            f"Every row was predicted {'positive' if selected else 'negative'}; "
            "check the decision rule (threshold, positive label or positive values)"
        )
    if not checked:
        warnings.append("No thresholds were given, so no metric was checked")
    verdicts = [
        metric["passed"]
        for section in (attributes, intersections)
        for entry in section.values()
        for metric in entry["metrics"].values()
        if metric["threshold"] is not None
    ]
    population.setdefault("rows_before", rows)
    population["rows_after"] = rows
    population["rows"] = rows
    return to_jsonable(
        {
            "attributes": attributes,
            "intersections": intersections,
            "passed": all(verdicts),
            "warnings": warnings,
            "population": population,
            "min_group_size": min_group_size,
            **({"decision_rule": counts["decision_rule"]} if counts.get("decision_rule") else {}),
        }
    )


def validate_thresholds(
    thresholds: Mapping[str, Mapping[str, float]] | None,
) -> dict[str, dict[str, float]]:
    """Check threshold names and bounds; return them as plain dicts."""
    checked: dict[str, dict[str, float]] = {}
    for name, bounds in (thresholds or {}).items():
        if name not in METRICS:
            raise JobInputError(
                f"Unknown fairness metric '{name}' in thresholds; known: {', '.join(METRICS)}"
            )
        if not isinstance(bounds, Mapping) or not bounds or set(bounds) - {"min", "max"}:
            raise JobInputError(
                f'Threshold for {name} must look like {{"max": 0.1}} or {{"min": 0.8}}'
            )
        try:
            checked[name] = {key: float(value) for key, value in bounds.items()}
        except (TypeError, ValueError) as exc:
            raise JobInputError(f"Threshold bounds for {name} must be numbers") from exc
    return checked


def group_label(value: Any) -> str:
    """Display label of a sensitive value (integral floats lose their ``.0``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return MISSING_GROUP
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def binary_array(values: Any, role: str) -> np.ndarray:
    """``values`` as a boolean array; anything but 0/1/True/False is a JobInputError."""
    array = np.asarray(values)
    if array.dtype == bool:
        return array
    if array.dtype.kind in "fO" and pd.isna(array).any():
        raise JobInputError(f"The {role} values contain missing values")
    try:
        numeric = array.astype(float)
    except (TypeError, ValueError):
        numeric = None
    if numeric is None or not np.isin(numeric, (0.0, 1.0)).all():
        found = sorted({group_label(v) for v in pd.unique(array.ravel())[:11]})
        raise JobInputError(f"The {role} values must be 0 or 1; found: {', '.join(found[:10])}")
    return numeric == 1.0


def code_columns(frame: pd.DataFrame) -> dict[str, tuple[np.ndarray, list[str]]]:
    """``group_codes`` of every column, by column name (computed once, shared by the counts and
    the outcome analysis)."""
    return {str(column): group_codes(frame[column]) for column in frame.columns}


def group_codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer group code per row (int32) and the label of each code (missing ->
    ``(missing)``). Codes come from ``pd.factorize`` (a hash pass, faster than sorting the values
    as ``np.unique(return_inverse=True)`` does, and it keeps first-seen order)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    labels = [group_label(value) for value in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(MISSING_GROUP)
    distinct = list(dict.fromkeys(labels))
    if len(distinct) != len(labels):  # e.g. 1 and "1" in an object column share a label
        remap = np.array([distinct.index(label) for label in labels], dtype=np.int32)
        codes, labels = remap[codes], distinct
    return codes.astype(np.int32, copy=False), labels


def _count(
    codes: np.ndarray, n_groups: int, cell: np.ndarray, keys: Sequence[Sequence[str]]
) -> dict[str, list[int]]:
    key = codes * np.int32(4)
    key += cell
    table = np.bincount(key, minlength=n_groups * 4).reshape(n_groups, 4)
    counted = {}
    for index, (tn, fp, fn, tp) in enumerate(table.tolist()):
        n = tn + fp + fn + tp
        if n:
            counted[json.dumps(list(keys[index]))] = [n, tp, fp, tn, fn]
    return counted


def _add_groups(target: dict[str, list[int]], source: Mapping[str, list[int]]) -> None:
    for key, values in source.items():
        current = target.setdefault(key, [0] * len(_FIELDS))
        target[key] = [a + b for a, b in zip(current, values, strict=True)]


def _add_population(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key in ("rows_before", "rows_dropped_missing"):
        if key in source:
            target[key] = target.get(key, 0) + source[key]
    for mine, theirs in zip(target.get("filters", []), source.get("filters", []), strict=True):
        mine["rows_before"] += theirs["rows_before"]
        mine["rows_after"] += theirs["rows_after"]
    for warning in source.get("warnings", []):
        if warning not in target.setdefault("warnings", []):
            target["warnings"].append(warning)


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _evaluate(
    name: str,
    attribute_names: list[str],
    groups: Mapping[str, list[int]],
    thresholds: Mapping[str, Mapping[str, float]],
    min_group_size: int,
    warnings: list[str],
) -> dict[str, Any]:
    rows = []
    for key, (n, tp, fp, tn, fn) in groups.items():
        members = json.loads(key)
        row = {
            "group": " & ".join(members),
            "count": n,
            "selection_rate": _rate(tp + fp, n),
            "true_positive_rate": _rate(tp, tp + fn),
            "false_positive_rate": _rate(fp, fp + tn),
            "false_negative_rate": _rate(fn, tp + fn),
            "precision": _rate(tp, tp + fp),
            "accuracy": _rate(tp + tn, n),
            "positives": tp + fn,
            "predicted_positives": tp + fp,
            "small_group": n < min_group_size,
        }
        if len(attribute_names) > 1:
            row["members"] = dict(zip(attribute_names, members, strict=True))
        rows.append(row)
    rows.sort(key=_sort_key)
    for row in rows:
        where, n = f"{name}={row['group']}", row["count"]
        if row["small_group"]:
            warnings.append(
                f"{where} has {n} rows (fewer than {min_group_size}); its rates are unreliable"
            )
        if row["positives"] == 0:
            warnings.append(
                f"{where} has no actual positives: its true positive rate is undefined and counts "
                "as 0 in equalized_odds_difference (as in fairlearn)"
            )
        if row["positives"] == n:
            warnings.append(
                f"{where} has no actual negatives: its false positive rate is undefined and counts "
                "as 0 in equalized_odds_difference (as in fairlearn)"
            )
        if MISSING_GROUP in row["group"].split(" & "):
            warnings.append(f"{where}: rows without a value form their own group")
    if len(rows) == 1:
        warnings.append(f"{name} has a single group, so there is nothing to compare")
    values = _summary(rows)
    metrics = {}
    for metric, value in values.items():
        bounds = thresholds.get(metric)
        passed = None if bounds is None else _passes(value, bounds)
        if bounds is not None and value is None:
            warnings.append(f"{metric} for {name} could not be computed, so it fails its threshold")
        metrics[metric] = {"value": value, "threshold": bounds, "passed": passed}
    return {"groups": rows, "metrics": metrics}


def _summary(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    selection = [row["selection_rate"] for row in rows]
    tpr = [row["true_positive_rate"] or 0.0 for row in rows]
    fpr = [row["false_positive_rate"] or 0.0 for row in rows]
    top, bottom = max(selection), min(selection)
    ratio = bottom / top if top > 0 else None
    tpr_gap, fpr_gap = max(tpr) - min(tpr), max(fpr) - min(fpr)
    return {
        "demographic_parity_difference": top - bottom,
        "demographic_parity_ratio": ratio,
        "disparate_impact_ratio": ratio,
        "equalized_odds_difference": max(tpr_gap, fpr_gap),
        "true_positive_rate_difference": tpr_gap,
        "false_positive_rate_difference": fpr_gap,
    }


def _passes(value: float | None, bounds: Mapping[str, float]) -> bool:
    if value is None or not math.isfinite(value):
        return False
    return value >= bounds.get("min", -math.inf) and value <= bounds.get("max", math.inf)


def _sort_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row["group"] == MISSING_GROUP, -row["count"], row["group"])
