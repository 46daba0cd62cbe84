"""Outcome analysis: how good the decisions are, overall and per group.

The rules: accuracy, base rate and selection rate always; ROC AUC (scikit-learn) and calibration
only when a score exists and both outcomes occur. Calibration bins are the score's deciles over
all rows (duplicate edges merged, so a score with few distinct values gets fewer bins); per-group
calibration uses the same edges so groups are comparable. The expected calibration error is the
row-weighted mean of ``|mean score - observed rate|`` over the bins. This needs every row at
once (deciles and AUC do not add up across chunks), so it is not part of the chunked path.
"""

from typing import Any

import numpy as np
import pandas as pd

from .fairness_counts import binary_array, group_codes
from .jsonable import to_jsonable


def outcome_analysis(
    y_true: Any,
    y_pred: Any,
    y_score: Any = None,
    sensitive: pd.DataFrame | pd.Series | None = None,
    *,
    bins: int = 10,
) -> dict[str, Any]:
    """``{"overall": {...}, "groups": {attribute: [{"group", ...}]}}`` (see module docstring).

    Each block has ``count``, ``accuracy``, ``base_rate``, ``selection_rate``, ``auc``,
    ``mean_score``, ``expected_calibration_error`` and ``calibration`` (a list of
    ``{"bin", "lower", "upper", "count", "mean_score", "observed_rate"}``).
    """
    truth = binary_array(y_true, "outcome").astype(float)
    predicted = binary_array(y_pred, "prediction").astype(float)
    score = None if y_score is None else np.asarray(y_score, dtype=float)
    edges = None
    if score is not None:
        finite = score[np.isfinite(score)]
        if finite.size:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)))
    result: dict[str, Any] = {"overall": _block(truth, predicted, score, edges), "groups": {}}
    if sensitive is not None:
        frame = sensitive.to_frame() if isinstance(sensitive, pd.Series) else sensitive
        for column in frame.columns:
            codes, labels = group_codes(frame[column])
            blocks = []
            for index, label in enumerate(labels):
                mask = codes == index
                block = _block(
                    truth[mask], predicted[mask], None if score is None else score[mask], edges
                )
                blocks.append({"group": label, **block})
            blocks.sort(key=lambda block: -block["count"])
            result["groups"][str(column)] = blocks
    return to_jsonable(result)


def _block(
    truth: np.ndarray, predicted: np.ndarray, score: np.ndarray | None, edges: np.ndarray | None
) -> dict[str, Any]:
    count = len(truth)
    block: dict[str, Any] = {
        "count": count,
        "accuracy": float(np.mean(truth == predicted)) if count else None,
        "base_rate": float(truth.mean()) if count else None,
        "selection_rate": float(predicted.mean()) if count else None,
        "auc": None,
        "mean_score": None,
        "expected_calibration_error": None,
        "calibration": [],
    }
    if score is None or not count:
        return block
    usable = np.isfinite(score)
    truth, score = truth[usable], score[usable]
    if not len(score):
        return block
    block["mean_score"] = float(score.mean())
    if 0 < truth.sum() < len(truth):
        from sklearn.metrics import roc_auc_score

        block["auc"] = float(roc_auc_score(truth, score))
    if edges is not None and len(edges) >= 2:
        which = np.clip(np.searchsorted(edges[1:-1], score, side="right"), 0, len(edges) - 2)
        calibration, gap = [], 0.0
        for index in range(len(edges) - 1):
            mask = which == index
            n = int(mask.sum())
            if not n:
                continue
            mean_score, observed = float(score[mask].mean()), float(truth[mask].mean())
            gap += n * abs(mean_score - observed)
            calibration.append(
                {
                    "bin": index + 1,
                    "lower": float(edges[index]),
                    "upper": float(edges[index + 1]),
                    "count": n,
                    "mean_score": mean_score,
                    "observed_rate": observed,
                }
            )
        block["calibration"] = calibration
        block["expected_calibration_error"] = gap / len(score)
    return block
