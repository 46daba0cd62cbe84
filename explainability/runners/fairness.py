"""Fairness runner: group metrics for a model's predictions or a vendor's recorded decisions.

The rules (the metric definitions are in ``fairness_counts``):

- Model-based: the model scores the features; a row is predicted positive when the probability
  of the positive class is ``>= threshold``; the outcome is positive when the label column equals
  ``positive_label``.
- Recorded decisions: the prediction column is a 0/1-style label (positive when it equals
  ``positive_label``), a score (positive when ``>= threshold``), or a category mapped by
  ``positive_values`` (and, optionally, ``negative_values``: then any other value is refused,
  naming it, rather than silently counted as negative). The outcome column is a label.
- Filters (``data.apply_filters``) run first; rows without a prediction or outcome are then left
  out and counted. The result records ``population``: rows before and after, each filter's
  effect, rows left out.
- Labels are matched by their text, so ``positive_label=1`` matches ``1``, ``1.0`` and ``"1"``.
- Every entry point is also available as counts (``*_fairness_counts``) that add up across
  chunks of a large file: ``merge_fairness_counts`` then ``fairness_from_counts`` gives the same
  result as the one-shot call, apart from ``outcomes`` (AUC and calibration need all rows).
"""

import contextlib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from .data import apply_filters, check_features, require_columns
from .errors import JobInputError
from .fairness_counts import (
    METRICS,
    code_columns,
    fairness_counts,
    fairness_from_counts,
    group_codes,
    group_label,
    merge_fairness_counts,
)
from .jsonable import to_jsonable
from .loading import LoadedModel
from .outcomes import outcome_analysis
from .timing import Stopwatch

__all__ = [
    "METRICS",
    "Outcomes",
    "decision_fairness_counts",
    "decision_outcomes",
    "fairness_counts",
    "fairness_from_counts",
    "fairness_from_decisions",
    "fairness_from_model",
    "merge_fairness_counts",
    "model_fairness_counts",
    "model_outcomes",
    "outcome_analysis",
    "run_fairness",
]

Thresholds = Mapping[str, Mapping[str, float]] | None


@dataclass
class Outcomes:
    """Aligned 0/1 outcomes and predictions, optional scores, and the sensitive columns."""

    y_true: np.ndarray
    y_pred: np.ndarray
    y_score: np.ndarray | None
    sensitive: pd.DataFrame
    population: dict[str, Any] = field(default_factory=dict)
    decision_rule: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def coded(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        """The sensitive columns' int32 group codes, made once for the counts and the analysis."""
        return code_columns(self.sensitive)

    def counts(self) -> dict[str, Any]:
        """Summable confusion counts of these rows (see ``fairness_counts``)."""
        counted = fairness_counts(
            self.y_true, self.y_pred, self.sensitive, population=self.population,
            coded=self.coded,
        )
        counted["decision_rule"] = self.decision_rule
        return counted

    def analysis(self) -> dict[str, Any]:
        """The outcome analysis of these rows (see ``outcome_analysis``)."""
        return outcome_analysis(
            self.y_true, self.y_pred, self.y_score, self.sensitive, coded=self.coded
        )


def run_fairness(
    y_true: Any,
    y_pred: Any,
    sensitive: pd.DataFrame | pd.Series,
    *,
    thresholds: Thresholds = None,
    min_group_size: int = 30,
    y_score: Any = None,
    include_outcomes: bool | None = None,
) -> dict[str, Any]:
    """Group metrics for 0/1 outcomes and predictions.

    Result: ``{"attributes": {attr: {"groups": [...], "metrics": {...}}}, "intersections": {...},
    "passed", "warnings", "population": {"rows", ...}, "min_group_size"}``; each group has
    ``group``, ``count``, ``selection_rate``, ``true_positive_rate``, ``false_positive_rate``,
    ``false_negative_rate``, ``precision``, ``accuracy``, ``positives``,
    ``predicted_positives``, ``small_group`` (and ``members`` in intersections); each metric
    ``{"value", "threshold", "passed"}``. ``outcomes`` (``outcome_analysis``) is added when a
    score is given or ``include_outcomes`` is true.
    """
    if len(np.asarray(y_true)) == 0:
        raise JobInputError("The dataset has no rows")
    result = fairness_from_counts(
        fairness_counts(y_true, y_pred, sensitive),
        thresholds=thresholds,
        min_group_size=min_group_size,
    )
    if include_outcomes or (include_outcomes is None and y_score is not None):
        result["outcomes"] = outcome_analysis(y_true, y_pred, y_score, sensitive)
    return result


def fairness_from_model(
    model: LoadedModel,
    df: pd.DataFrame,
    *,
    features: Sequence[str],
    label_column: str,
    sensitive_columns: Sequence[str],
    thresholds: Thresholds = None,
    threshold: float = 0.5,
    positive_label: Any = 1,
    class_index: int | None = None,
    filters: Sequence[str] | None = None,
    min_group_size: int = 30,
    include_outcomes: bool = True,
) -> dict[str, Any]:
    """Fairness of the model's thresholded predictions against the label column."""
    outcomes = model_outcomes(
        model,
        df,
        features=features,
        label_column=label_column,
        sensitive_columns=sensitive_columns,
        threshold=threshold,
        positive_label=positive_label,
        class_index=class_index,
        filters=filters,
    )
    return _result(outcomes, thresholds, min_group_size, include_outcomes)


def fairness_from_decisions(
    df: pd.DataFrame,
    *,
    prediction_column: str,
    outcome_column: str,
    sensitive_columns: Sequence[str],
    thresholds: Thresholds = None,
    threshold: float | None = None,
    positive_values: Sequence[Any] | None = None,
    negative_values: Sequence[Any] | None = None,
    positive_label: Any = 1,
    filters: Sequence[str] | None = None,
    min_group_size: int = 30,
    include_outcomes: bool = True,
) -> dict[str, Any]:
    """Fairness of recorded decisions (e.g. a vendor model's) against recorded outcomes."""
    outcomes = decision_outcomes(
        df,
        prediction_column=prediction_column,
        outcome_column=outcome_column,
        sensitive_columns=sensitive_columns,
        threshold=threshold,
        positive_values=positive_values,
        negative_values=negative_values,
        positive_label=positive_label,
        filters=filters,
    )
    return _result(outcomes, thresholds, min_group_size, include_outcomes)


def model_fairness_counts(model: LoadedModel, chunk: pd.DataFrame, **options: Any) -> dict:
    """Counts of one chunk for ``fairness_from_model`` (same keyword options, no thresholds)."""
    return model_outcomes(model, chunk, require_rows=False, **options).counts()


def decision_fairness_counts(chunk: pd.DataFrame, **options: Any) -> dict:
    """Counts of one chunk for ``fairness_from_decisions`` (same keyword options)."""
    return decision_outcomes(chunk, require_rows=False, **options).counts()


def model_outcomes(
    model: LoadedModel,
    df: pd.DataFrame,
    *,
    features: Sequence[str],
    label_column: str,
    sensitive_columns: Sequence[str],
    threshold: float = 0.5,
    positive_label: Any = 1,
    class_index: int | None = None,
    filters: Sequence[str] | None = None,
    require_rows: bool = True,
    stopwatch: Stopwatch | None = None,
) -> Outcomes:
    """Outcomes for the model-based entry (see module docstring); the model's scoring is timed
    as the ``predict`` section of ``stopwatch`` when one is given."""
    sensitive_columns = _sensitive(sensitive_columns)
    require_columns(df, [label_column], role="label column")
    require_columns(df, sensitive_columns, role="sensitive attributes")
    kept, population = _population(df, filters, [label_column], require_rows)
    labels = kept[label_column]
    y_true = _binary_mask(labels, label_column, positive_label)
    column, class_label = _positive_column(model, class_index, positive_label)
    if len(kept):
        features_frame = check_features(kept, features)
        with stopwatch.section("predict") if stopwatch else contextlib.nullcontext():
            proba = model.predict_proba(features_frame)
        if column >= proba.shape[1]:
            raise JobInputError(f"class_index must be between 0 and {proba.shape[1] - 1}")
        score = proba[:, column]
    else:
        score = np.empty(0)
    rule = {
        "source": "model",
        "threshold": float(threshold),
        "positive_label": positive_label,
        "class_index": column,
        "class_label": class_label,
    }
    return Outcomes(
        y_true=y_true,
        y_pred=score >= float(threshold),
        y_score=score,
        sensitive=kept[sensitive_columns],
        population=population,
        decision_rule=to_jsonable(rule),
    )


def decision_outcomes(
    df: pd.DataFrame,
    *,
    prediction_column: str,
    outcome_column: str,
    sensitive_columns: Sequence[str],
    threshold: float | None = None,
    positive_values: Sequence[Any] | None = None,
    negative_values: Sequence[Any] | None = None,
    positive_label: Any = 1,
    filters: Sequence[str] | None = None,
    require_rows: bool = True,
) -> Outcomes:
    """Outcomes for the recorded-decisions entry (see module docstring)."""
    sensitive_columns = _sensitive(sensitive_columns)
    require_columns(df, [prediction_column], role="prediction column")
    require_columns(df, [outcome_column], role="outcome column")
    require_columns(df, sensitive_columns, role="sensitive attributes")
    if threshold is not None and positive_values is not None:
        raise JobInputError("Give either a score threshold or positive_values, not both")
    if negative_values is not None and positive_values is None:
        raise JobInputError("negative_values needs positive_values too")
    kept, population = _population(df, filters, [prediction_column, outcome_column], require_rows)
    predictions = kept[prediction_column]
    numeric = is_numeric_dtype(predictions.dtype) and not is_bool_dtype(predictions.dtype)
    score = predictions.to_numpy(dtype=float) if numeric else None
    rule: dict[str, Any] = {"source": "decisions", "prediction_column": prediction_column}
    if threshold is not None:
        if score is None:
            raise JobInputError(
                f"Column '{prediction_column}' is not numeric, so a score threshold cannot apply; "
                "map its values with positive_values instead"
            )
        y_pred = score >= float(threshold)
        rule.update(mode="score", threshold=float(threshold))
    elif positive_values is not None:
        y_pred = _mapped(predictions, prediction_column, positive_values, negative_values)
        rule.update(
            mode="mapping", positive_values=list(positive_values), negative_values=negative_values
        )
    else:
        y_pred = _binary_mask(predictions, prediction_column, positive_label, prediction=True)
        score = None
        rule.update(mode="label", positive_label=positive_label)
    outcome = kept[outcome_column]
    y_true = _binary_mask(outcome, outcome_column, positive_label)
    rule["outcome_column"] = outcome_column
    rule["outcome_positive_label"] = positive_label
    return Outcomes(
        y_true=y_true,
        y_pred=y_pred,
        y_score=score,
        sensitive=kept[sensitive_columns],
        population=population,
        decision_rule=to_jsonable(rule),
    )


def _result(
    outcomes: Outcomes, thresholds: Thresholds, min_group_size: int, include_outcomes: bool
) -> dict[str, Any]:
    result = fairness_from_counts(
        outcomes.counts(), thresholds=thresholds, min_group_size=min_group_size
    )
    if include_outcomes:
        result["outcomes"] = outcomes.analysis()
    return result


def _sensitive(columns: Sequence[str] | str) -> list[str]:
    listed = [columns] if isinstance(columns, str) else list(columns or [])
    if not listed:
        raise JobInputError("Give at least one sensitive attribute column")
    return list(dict.fromkeys(listed))


def _population(
    df: pd.DataFrame, filters: Sequence[str] | None, needed: Sequence[str], require_rows: bool
) -> tuple[pd.DataFrame, dict[str, Any]]:
    if require_rows and len(df) == 0:
        raise JobInputError("The dataset has no rows")
    filtered, described = apply_filters(df, filters, require_rows=require_rows)
    present = filtered[list(needed)].notna().all(axis=1).to_numpy()
    kept = filtered if present.all() else filtered.loc[present]
    population: dict[str, Any] = {
        "rows_before": len(df),
        "filters": described,
        "rows_dropped_missing": int((~present).sum()),
    }
    if population["rows_dropped_missing"]:
        population["warnings"] = [f"Rows without a value in {', '.join(needed)} were left out"]
    if require_rows and len(kept) == 0:
        raise JobInputError(f"No row has a value in every one of: {', '.join(needed)}")
    return kept, population


def _labels_of(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    if is_bool_dtype(series.dtype):
        series = series.astype("Int64")
    return group_codes(series)


def _label_mask(
    series: pd.Series, values: Sequence[Any], coded: tuple[np.ndarray, list[str]] | None = None
) -> np.ndarray:
    codes, labels = coded or _labels_of(series)
    wanted = {group_label(int(v) if isinstance(v, bool) else v) for v in values}
    hit = np.array([label in wanted for label in labels] + [False], dtype=bool)
    return hit[codes] if len(codes) else np.zeros(0, dtype=bool)


def _binary_mask(
    series: pd.Series, column: str, positive_label: Any, *, prediction: bool = False
) -> np.ndarray:
    """Rows whose value is ``positive_label``, after checking the column is binary (the column
    is coded once for both)."""
    coded = _labels_of(series)
    _check_binary_column(series, column, positive_label, prediction=prediction, coded=coded)
    return _label_mask(series, [positive_label], coded)


def _check_binary_column(
    series: pd.Series,
    column: str,
    positive_label: Any,
    *,
    prediction: bool = False,
    coded: tuple[np.ndarray, list[str]] | None = None,
) -> None:
    _, labels = coded or _labels_of(series)
    if len(labels) > 2:
        shown = ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")
        hint = (
            "; give a score threshold or positive_values to turn it into decisions"
            if prediction
            else "; fairness needs a binary outcome"
        )
        raise JobInputError(f"Column '{column}' has {len(labels)} distinct values ({shown}){hint}")
    if len(labels) == 2 and group_label(positive_label) not in labels:
        raise JobInputError(
            f"positive_label {positive_label!r} does not occur in column '{column}' "
            f"(its values: {', '.join(labels)})"
        )


def _mapped(
    series: pd.Series,
    column: str,
    positive_values: Sequence[Any],
    negative_values: Sequence[Any] | None,
) -> np.ndarray:
    if isinstance(positive_values, (str, bytes)) or not list(positive_values):
        raise JobInputError("positive_values must be a non-empty list of values")
    positive = _label_mask(series, positive_values)
    if negative_values is None:
        return positive
    overlap = {group_label(v) for v in positive_values} & {group_label(v) for v in negative_values}
    if overlap:
        raise JobInputError(
            f"Values {', '.join(sorted(overlap))} are in both positive_values and negative_values"
        )
    unknown = ~positive & ~_label_mask(series, negative_values)
    if unknown.any():
        counts = series[unknown].map(group_label).value_counts()
        shown = ", ".join(f"'{value}' ({n} rows)" for value, n in counts.head(10).items())
        raise JobInputError(
            f"Column '{column}' has values outside positive_values and negative_values: {shown}"
        )
    return positive


def _positive_column(
    model: LoadedModel, class_index: int | None, positive_label: Any
) -> tuple[int, Any]:
    classes = model.classes
    if class_index is not None:
        index = int(class_index)
        return index, classes[index] if classes and index < len(classes) else index
    if classes:
        labels = [group_label(c) for c in classes]
        if group_label(positive_label) in labels:
            index = labels.index(group_label(positive_label))
            return index, classes[index]
        if len(classes) != 2:
            raise JobInputError(
                f"positive_label {positive_label!r} is not one of the model's classes "
                f"({', '.join(labels)}); set class_index"
            )
    return 1, classes[1] if classes and len(classes) > 1 else 1
