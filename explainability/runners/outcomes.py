"""Outcome analysis: how good the decisions are, overall and per group.

The rules: accuracy, base rate and selection rate always; ROC AUC (scikit-learn) and calibration
only when a score exists and both outcomes occur. Calibration bins are the score's deciles over
all rows (duplicate edges merged, so a score with few distinct values gets fewer bins); per-group
calibration uses the same edges so groups are comparable. The expected calibration error is the
row-weighted mean of ``|mean score - observed rate|`` over the bins. This needs every row at
once (deciles and AUC do not add up across chunks), so it is not part of the chunked path.
Rows without a finite score count in the rates but not in AUC, mean score or calibration.

Speed and memory: every group of every attribute (and the overall block, as one more group) is
numbered once (int32 codes, ``fairness_counts.group_codes``), so one pass over the rows in their
own order sums counts, scores and calibration bins for all of them (``_group_sums``), and one
pass over the rows in ascending score order (a single ``argsort``) sums the Mann-Whitney
statistic of every group at once (``_auc_twice_u``): per run of equal scores, each group's
positives in the run count the group's negatives below it plus half of those in the run (ties
count one half, which is what scikit-learn's ``roc_auc_score`` computes). The statistic is summed
in integers, doubled, so the AUC is one exact division. No per-group mask, sort or copy of the
rows: extra memory is the sort order and the codes, a few bytes per row.

The kernels get one type per argument whatever the caller passed (``kernels.kernel_input``), so
a model's probability column and a vendor's recorded scores run the code a worker loaded before
its first job (``warm_up``).
"""

from typing import Any

import numpy as np
import pandas as pd

from .fairness_counts import binary_array, code_columns
from .jsonable import to_jsonable
from .kernels import jit, kernel_input


def outcome_analysis(
    y_true: Any,
    y_pred: Any,
    y_score: Any = None,
    sensitive: pd.DataFrame | pd.Series | None = None,
    *,
    bins: int = 10,
    coded: dict[str, tuple[np.ndarray, list[str]]] | None = None,
) -> dict[str, Any]:
    """``{"overall": {...}, "groups": {attribute: [{"group", ...}]}}`` (see module docstring).

    Each block has ``count``, ``accuracy``, ``base_rate``, ``selection_rate``, ``auc``,
    ``mean_score``, ``expected_calibration_error`` and ``calibration`` (a list of
    ``{"bin", "lower", "upper", "count", "mean_score", "observed_rate"}``). ``coded`` is the
    sensitive columns' ``code_columns`` when the caller already has them.
    """
    truth = kernel_input(binary_array(y_true, "outcome"), np.bool_)
    predicted = kernel_input(binary_array(y_pred, "prediction"), np.bool_)
    n = len(truth)
    if sensitive is not None and coded is None:
        frame = sensitive.to_frame() if isinstance(sensitive, pd.Series) else sensitive
        coded = code_columns(frame)
    coded = coded or {}
    # Group numbers: 0 is every row (the overall block), then each attribute's groups in turn.
    offsets, width = {}, 1
    for column, (_, labels) in coded.items():
        offsets[column] = width
        width += len(labels)
    # Row-major (rows x attributes): a row's groups sit together for the score-ordered pass.
    codes = np.zeros((n, len(coded) + 1), np.int32)
    for at, (column, (column_codes, _)) in enumerate(coded.items(), start=1):
        np.add(column_codes, offsets[column], out=codes[:, at], casting="unsafe")

    score = None if y_score is None else kernel_input(y_score, np.float64)
    edges = None
    if score is not None:
        finite = np.isfinite(score)
        present = score if finite.all() else score[finite]
        if present.size:
            edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)))
        del present
        if edges is not None and len(edges) >= 2:
            which = np.searchsorted(edges[1:-1], score, side="right").astype(np.int32)
            np.clip(which, 0, len(edges) - 2, out=which)
            n_bins = len(edges) - 1
        else:
            which, n_bins = np.zeros(n, np.int32), 0
        which[~finite] = -1
    else:
        score, which, n_bins = kernel_input(np.zeros(0), np.float64), np.zeros(0, np.int32), 0
    sums = _group_sums(codes, truth, predicted, score, which, width, max(n_bins, 1),
                       y_score is not None)
    counts, right, positive, selected, scored, scored_pos, score_sum, cells = sums
    auc_twice_u = None
    if y_score is not None and scored.any():
        order = np.argsort(score)  # ties in any order: runs of equal scores are taken whole
        if not finite.all():
            order = order[: int(np.count_nonzero(finite))]  # NaN sorts last
        auc_twice_u = _auc_twice_u(order, score, truth, codes, width)
        del order

    def block(group: int) -> dict[str, Any]:
        out = _rates(int(counts[group]), int(right[group]), int(positive[group]),
                     int(selected[group]))
        m = int(scored[group])
        if not m:
            return out
        out["mean_score"] = float(score_sum[group] / m)
        positives = int(scored_pos[group])
        if auc_twice_u is not None and 0 < positives < m:
            out["auc"] = float(auc_twice_u[group] / (2 * positives * (m - positives)))
        if n_bins:
            calibration, gap = [], 0.0
            bin_n, bin_score, bin_truth = cells[group, :, 0], cells[group, :, 1], cells[group, :, 2]
            for index in np.flatnonzero(bin_n):
                size = int(bin_n[index])
                mean_score, observed = bin_score[index] / size, bin_truth[index] / size
                gap += size * abs(mean_score - observed)
                calibration.append(
                    {
                        "bin": int(index) + 1,
                        "lower": float(edges[index]),
                        "upper": float(edges[index + 1]),
                        "count": size,
                        "mean_score": float(mean_score),
                        "observed_rate": float(observed),
                    }
                )
            out["calibration"] = calibration
            out["expected_calibration_error"] = gap / m
        return out

    result: dict[str, Any] = {"overall": block(0), "groups": {}}
    for column, (_, labels) in coded.items():
        blocks = [{"group": label, **block(offsets[column] + index)}
                  for index, label in enumerate(labels)]
        blocks.sort(key=lambda item: -item["count"])
        result["groups"][str(column)] = blocks
    return to_jsonable(result)


def warm_up() -> None:
    """Load (or, with a cold cache, compile) both kernels, on a few rows with a score (see
    ``kernels.warm_up``)."""
    sensitive = pd.DataFrame({"group": ["a", "b", "a", "b"]})
    outcome_analysis([0, 1, 1, 0], [0, 1, 0, 0], [0.2, 0.9, 0.4, 0.4], sensitive)


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


@jit
def _group_sums(codes, truth, predicted, score, which, width, n_bins, has_score):
    """Per group: rows, correct, positives, selected, rows with a finite score, their positives,
    their score sum, and per calibration bin (rows, score sum, positives)."""
    counts = np.zeros(width, np.int64)
    right = np.zeros(width, np.int64)
    positive = np.zeros(width, np.int64)
    selected = np.zeros(width, np.int64)
    scored = np.zeros(width, np.int64)
    scored_pos = np.zeros(width, np.int64)
    score_sum = np.zeros(width, np.float64)
    cells = np.zeros((width, n_bins, 3), np.float64)
    for i in range(truth.shape[0]):
        hit, chosen = truth[i], predicted[i]
        b = which[i] if has_score else -1
        for c in range(codes.shape[1]):
            g = codes[i, c]
            counts[g] += 1
            if hit == chosen:
                right[g] += 1
            if hit:
                positive[g] += 1
            if chosen:
                selected[g] += 1
            if has_score and b >= 0:
                s = score[i]
                scored[g] += 1
                score_sum[g] += s
                cells[g, b, 0] += 1.0
                cells[g, b, 1] += s
                if hit:
                    scored_pos[g] += 1
                    cells[g, b, 2] += 1.0
    return counts, right, positive, selected, scored, scored_pos, score_sum, cells


@jit
def _auc_twice_u(order, score, truth, codes, width):
    """Twice the Mann-Whitney U of every group: for each run of equal scores (rows ``order``,
    ascending), each group's positives in the run times (2 x its negatives below + its negatives
    in the run)."""
    below = np.zeros(width, np.int64)
    run_pos = np.zeros(width, np.int64)
    run_neg = np.zeros(width, np.int64)
    twice_u = np.zeros(width, np.int64)
    n, k = order.shape[0], 0
    while k < n:
        end = k + 1
        value = score[order[k]]
        while end < n and score[order[end]] == value:
            end += 1
        if end == k + 1:  # a score of its own (the usual case): no run to gather
            i = order[k]
            for c in range(codes.shape[1]):
                g = codes[i, c]
                if truth[i]:
                    twice_u[g] += 2 * below[g]
                else:
                    below[g] += 1
            k = end
            continue
        for j in range(k, end):
            i = order[j]
            for c in range(codes.shape[1]):
                if truth[i]:
                    run_pos[codes[i, c]] += 1
                else:
                    run_neg[codes[i, c]] += 1
        for j in range(k, end):
            i = order[j]
            for c in range(codes.shape[1]):
                g = codes[i, c]
                if run_pos[g] or run_neg[g]:
                    twice_u[g] += run_pos[g] * (2 * below[g] + run_neg[g])
                    below[g] += run_neg[g]
                    run_pos[g] = 0
                    run_neg[g] = 0
        k = end
    return twice_u
