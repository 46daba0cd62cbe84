"""Outcome analysis: how good the decisions are, overall and per group.

The rules: accuracy, base rate and selection rate always; ROC AUC (scikit-learn) and calibration
only when a score exists and both outcomes occur. Calibration bins are the score's deciles over
all rows (duplicate edges merged, so a score with few distinct values gets fewer bins); per-group
calibration uses the same edges so groups are comparable. The expected calibration error is the
row-weighted mean of ``|mean score - observed rate|`` over the bins. This needs every row at
once (deciles and AUC do not add up across chunks), so it is not part of the chunked path.

Speed: the scores are sorted once; a stable sort by group code then lays every group out as one
contiguous, score-ordered segment, whose AUC is the Mann-Whitney statistic from counts per run
of equal scores (ties count one half, which is what scikit-learn's ``roc_auc_score`` computes)
and whose calibration is three ``bincount`` calls. Counts and rates are ``bincount`` over the
group codes. No per-group mask over all rows, so a million rows take a fraction of a second
and memory stays a few arrays of the row count.
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
    truth = binary_array(y_true, "outcome")
    predicted = binary_array(y_pred, "prediction")
    correct = truth == predicted
    scores = (
        None if y_score is None else _Scores(np.asarray(y_score, dtype=float), truth, bins)
    )
    n = len(truth)
    overall = _rates(n, np.count_nonzero(correct), np.count_nonzero(truth),
                     np.count_nonzero(predicted))
    if scores is not None and n:
        overall.update(scores.segment_block(*scores.everything()))
    result: dict[str, Any] = {"overall": overall, "groups": {}}
    if sensitive is not None:
        frame = sensitive.to_frame() if isinstance(sensitive, pd.Series) else sensitive
        for column in frame.columns:
            codes, labels = group_codes(frame[column])
            width = len(labels)
            counts = np.bincount(codes, minlength=width)
            right = np.bincount(codes[correct], minlength=width)
            positive = np.bincount(codes[truth], minlength=width)
            selected = np.bincount(codes[predicted], minlength=width)
            segments = scores.segments(codes, width) if scores is not None else None
            blocks = []
            for index, label in enumerate(labels):
                block = _rates(int(counts[index]), int(right[index]), int(positive[index]),
                               int(selected[index]))
                if segments is not None and counts[index]:
                    block.update(scores.segment_block(*segments[index]))
                blocks.append({"group": label, **block})
            blocks.sort(key=lambda block: -block["count"])
            result["groups"][str(column)] = blocks
    return to_jsonable(result)


def _rates(count: int, correct: int, positives: int, selected: int) -> dict[str, Any]:
    return {
        "count": count,
        "accuracy": correct / count if count else None,
        "base_rate": positives / count if count else None,
        "selection_rate": selected / count if count else None,
        "auc": None,
        "mean_score": None,
        "expected_calibration_error": None,
        "calibration": [],
    }


class _Scores:
    """What every group's AUC and calibration share: the finite rows in ascending score order,
    with their score, outcome, run of equal scores and decile bin laid out in that order."""

    def __init__(self, score: np.ndarray, truth: np.ndarray, bins: int) -> None:
        rows = np.flatnonzero(np.isfinite(score))
        finite = score[rows]
        self.edges = (
            np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1))) if finite.size else None
        )
        order = np.argsort(finite, kind="stable")
        self.rows = rows[order]
        self.score = finite[order]
        self.truth = truth[self.rows]
        self.run = np.zeros(len(self.score), np.int64)  # run number, ascending with the score
        if len(self.score) > 1:
            np.cumsum(self.score[1:] != self.score[:-1], out=self.run[1:])
        self.bin = None
        if self.edges is not None and len(self.edges) >= 2:
            self.bin = np.clip(
                np.searchsorted(self.edges[1:-1], self.score, side="right"),
                0, len(self.edges) - 2,
            )

    def everything(self) -> tuple[np.ndarray, ...]:
        """The arrays of all finite rows (the overall block)."""
        return self.score, self.truth, self.run, self.bin

    def segments(self, codes: np.ndarray, width: int) -> list[tuple[np.ndarray, ...]]:
        """Per group code, the arrays of its finite rows, still in ascending score order."""
        # A stable sort by a small integer key is a radix sort in NumPy: linear in the rows.
        key = codes[self.rows].astype(np.int16 if width < 2**15 else np.int64)
        perm = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[perm], np.arange(width + 1))
        arrays = [a[perm] if a is not None else None
                  for a in (self.score, self.truth, self.run, self.bin)]
        return [
            tuple(a[bounds[i] : bounds[i + 1]] if a is not None else None for a in arrays)
            for i in range(width)
        ]

    def segment_block(
        self, score: np.ndarray, hit: np.ndarray, run: np.ndarray, which: np.ndarray | None
    ) -> dict[str, Any]:
        """Mean score, AUC and calibration of one group's finite rows (ascending score)."""
        if not len(score):
            return {}
        block: dict[str, Any] = {"mean_score": float(score.mean())}
        positives = int(np.count_nonzero(hit))
        if 0 < positives < len(score):
            new_run = np.empty(len(score), bool)
            new_run[0] = True
            np.not_equal(run[1:], run[:-1], out=new_run[1:])
            local = np.cumsum(new_run) - 1
            pos = np.bincount(local[hit], minlength=local[-1] + 1).astype(float)
            neg = np.bincount(local[~hit], minlength=local[-1] + 1).astype(float)
            below = np.cumsum(neg) - neg  # negatives with a strictly lower score
            block["auc"] = float(
                np.dot(pos, below + 0.5 * neg) / (positives * (len(score) - positives))
            )
        if which is not None:
            width = len(self.edges) - 1
            counts = np.bincount(which, minlength=width)
            score_sums = np.bincount(which, weights=score, minlength=width)
            truth_sums = np.bincount(which[hit], minlength=width)
            calibration, gap = [], 0.0
            for index in np.flatnonzero(counts):
                n = int(counts[index])
                mean_score, observed = score_sums[index] / n, truth_sums[index] / n
                gap += n * abs(mean_score - observed)
                calibration.append(
                    {
                        "bin": int(index) + 1,
                        "lower": float(self.edges[index]),
                        "upper": float(self.edges[index + 1]),
                        "count": n,
                        "mean_score": float(mean_score),
                        "observed_rate": float(observed),
                    }
                )
            block["calibration"] = calibration
            block["expected_calibration_error"] = gap / len(score)
        return block
