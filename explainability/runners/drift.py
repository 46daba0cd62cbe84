"""Data drift between a reference and a current dataset, per feature, plus importance drift.

The rules:

- Numeric features: PSI over bins cut at the reference's inner quantiles (``psi_bins`` bins at
  most; repeated quantiles merge, so a 0/1 feature gets one bin per value), with a separate bin
  for missing values when either side has any; and the two-sample Kolmogorov-Smirnov test
  (``scipy.stats.ks_2samp``) on the present values.
- Categorical features (object, string, category or bool columns, or listed in ``categorical``):
  PSI over the categories (the 100 most frequent reference categories, the rest pooled as
  ``(other)``, missing values as ``(missing)``) and the chi-square test of homogeneity
  (``scipy.stats.chi2_contingency``) on the same table.
- PSI = sum((cur - ref) * ln(cur / ref)) over bins of shares, each share floored at 1e-4 so an
  empty bin contributes a large but finite amount.
- Verdict per feature: "drift" when PSI >= ``psi.alert``; "warn" when PSI >= ``psi.warn`` or the
  test's p-value is below its threshold (with large samples tests flag tiny shifts, so a test alone
  never says "drift"); "stable" otherwise. The overall verdict is the worst feature's.
- Importance drift (when both SHAP importances are given): shares of total importance, per-feature
  share change and rank change, total variation distance (verdict by ``importance_shift``), and
  Spearman rank correlation.

Speed: everything about a numeric feature is read from its sorted present values: the reference's
quantile edges, both sides' bin counts (``np.searchsorted`` of the edges), the summaries, and the
KS statistic (one merge walk of the two sorted columns, ``_ks_gaps``, in place of searching each
sample in both). The reference's side (sorted columns, edges, summaries) is a ``ReferenceProfile``
that a caller may build once (``profile_reference``) and pass for every comparison against that
reference, so a drift job sorts only the current data. Features run on one thread per core
(NumPy's sort and the numba walk release the GIL).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from .errors import JobInputError
from .fairness_counts import MISSING_GROUP, group_codes
from .jsonable import to_jsonable
from .kernels import jit, kernel_input

DEFAULT_DRIFT_THRESHOLDS: dict[str, Any] = {
    "psi": {"warn": 0.1, "alert": 0.25},
    "ks_pvalue": 0.01,
    "chi2_pvalue": 0.01,
    "importance_shift": {"warn": 0.1, "alert": 0.2},
}
EPSILON = 1e-4
MAX_CATEGORIES = 100
OTHER_CATEGORY = "(other)"
_ORDER = {"stable": 0, "warn": 1, "drift": 2}


class _Side:
    """One side of a numeric feature: its sorted present values, row count and summary."""

    def __init__(self, values: np.ndarray) -> None:
        finite = np.isfinite(values)
        self.present = np.sort(values if finite.all() else values[finite])
        self.rows = len(values)
        self.summary = _numeric_summary(self.present, self.rows)
        self._edges: dict[int, np.ndarray] = {}

    @classmethod
    def restored(
        cls, present: np.ndarray, rows: int, summary: dict[str, Any],
        edges: Mapping[int, np.ndarray],
    ) -> _Side:
        """A side read back from a stored profile (``drift_profile``): nothing sorted again."""
        side = cls.__new__(cls)
        side.present, side.rows, side.summary = present, rows, summary
        side._edges = dict(edges)
        return side

    def edges(self, bins: int) -> np.ndarray:
        """Inner quantile edges for ``bins`` bins (repeated quantiles merged)."""
        if bins not in self._edges:
            self._edges[bins] = (
                np.unique(np.quantile(self.present, np.linspace(0, 1, bins + 1)[1:-1]))
                if self.present.size
                else np.empty(0)
            )
        return self._edges[bins]


class ReferenceProfile:
    """The reference dataset made ready for comparisons: per numeric feature, its sorted present
    values with their edges and summary (built on first use and kept), and the frame itself for
    categorical features. Build it once per reference (``profile_reference``) and pass it to
    ``run_drift`` in place of the frame.

    A profile read back from storage (``drift_profile.load_profile``) has every numeric column
    sorted already and no frame: ``read`` gives the frame only if a comparison needs the
    reference's rows (a categorical feature), so an all-numeric comparison never reads the
    reference file."""

    def __init__(self, frame: pd.DataFrame) -> None:
        if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
            raise JobInputError("The reference dataset has no rows")
        self._frame: pd.DataFrame | None = frame
        self._read: Callable[[], pd.DataFrame] | None = None
        self.columns: list = list(frame.columns)
        self.rows = len(frame)
        self._numeric: set[str] | None = None
        self._sides: dict[str, _Side] = {}
        self._lock = threading.Lock()

    @classmethod
    def restored(
        cls, *, columns: Sequence[str], rows: int, sides: Mapping[str, _Side],
        read: Callable[[], pd.DataFrame],
    ) -> ReferenceProfile:
        """A profile of ``rows`` rows whose numeric ``columns`` are ``sides`` (the others are
        not numeric); ``read()`` returns the reference frame when a comparison needs it."""
        if rows <= 0:
            raise JobInputError("The reference dataset has no rows")
        profile = cls.__new__(cls)
        profile._frame, profile._read = None, read
        profile.columns, profile.rows = list(columns), int(rows)
        profile._numeric = set(sides)
        profile._sides = dict(sides)
        profile._lock = threading.Lock()
        return profile

    @property
    def frame(self) -> pd.DataFrame:
        """The reference frame (read on first use for a restored profile)."""
        if self._frame is None:
            with self._lock:
                if self._frame is None:
                    self._frame = self._read()
        return self._frame

    def __len__(self) -> int:
        return self.rows

    def is_numeric(self, name: str) -> bool:
        """Whether the reference column ``name`` has a numeric (not bool) dtype."""
        if self._numeric is not None:
            return name in self._numeric
        return _numeric(self.frame[name])

    def numeric_columns(self) -> list[str]:
        return [name for name in self.columns if self.is_numeric(name)]

    def side(self, name: str) -> _Side:
        """The sorted side of numeric column ``name`` (sorted on first use)."""
        found = self._sides.get(name)
        if found is None:
            found = _Side(self.frame[name].to_numpy(dtype=np.float64))
            with self._lock:
                found = self._sides.setdefault(name, found)
        return found

    def sort_all(self) -> None:
        """Sort every numeric column now (one thread per core), e.g. before storing."""
        _parallel(self.side, self.numeric_columns())


def profile_reference(
    reference: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
) -> ReferenceProfile:
    """A ``ReferenceProfile`` with the numeric ``features`` (default: every column) sorted now,
    one thread per core."""
    profile = ReferenceProfile(reference)
    listed = set(categorical or [])
    names = [str(f) for f in (features if features is not None else reference.columns)]
    numeric = [n for n in names if n in reference.columns and n not in listed
               and _numeric(reference[n])]
    _parallel(profile.side, numeric)
    return profile


def run_drift(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    psi_bins: int = 10,
    thresholds: Mapping[str, Any] | None = None,
    reference_importance: Any = None,
    current_importance: Any = None,
) -> dict[str, Any]:
    """Compare ``current`` with ``reference`` (see module docstring); ``reference`` may be a
    ``ReferenceProfile`` of it (built here, or read back from storage), which gives the same
    result without re-sorting its columns.

    Result: ``{"verdict", "features": [{"feature", "type", "psi", "ks_statistic", "ks_pvalue"
    | "chi2_statistic", "chi2_pvalue", "verdict", "reasons", "reference", "current", "bins"}],
    "summary": {"stable", "warn", "drift", "drifted", "warned"}, "rows", "thresholds",
    "importance"}``; features are ordered by PSI, largest first.
    """
    limits = _thresholds(thresholds)
    if psi_bins is None or int(psi_bins) < 2:
        raise JobInputError("psi_bins must be at least 2")
    profile = (
        reference if isinstance(reference, ReferenceProfile) else ReferenceProfile(reference)
    )
    if not isinstance(current, pd.DataFrame) or len(current) == 0:
        raise JobInputError("The current dataset has no rows")
    names = [str(f) for f in (features if features is not None else profile.columns)]
    if not names:
        raise JobInputError("No features to compare")
    known = set(profile.columns)
    problems = [
        f"{'Column' if len(missing) == 1 else 'Columns'} {', '.join(repr(m) for m in missing)} "
        f"{'is' if len(missing) == 1 else 'are'} missing from the {side} dataset"
        for side, present in (("reference", known), ("current", current.columns))
        if (missing := [name for name in names if name not in present])
    ]
    if problems:
        raise JobInputError("; ".join(problems))
    unknown = [name for name in categorical or [] if name not in names]
    if unknown:
        raise JobInputError(f"Categorical columns {', '.join(unknown)} are not among the features")
    listed = set(categorical or [])

    def compare(name: str) -> dict[str, Any]:
        cur = current[name]
        if name in listed or not profile.is_numeric(name) or not _numeric(cur):
            return _categorical(name, profile.frame[name], cur, limits)
        return _numeric_feature(
            name, profile.side(name), _Side(cur.to_numpy(dtype=np.float64)), int(psi_bins),
            limits,
        )

    results = _parallel(compare, names)
    results.sort(key=lambda item: -item["psi"])
    verdicts = [item["verdict"] for item in results]
    importance = None
    if reference_importance is not None and current_importance is not None:
        importance = importance_drift(reference_importance, current_importance, limits)
    overall = max(verdicts + ([importance["verdict"]] if importance else []), key=_ORDER.get)
    return to_jsonable(
        {
            "verdict": overall,
            "features": results,
            "summary": {
                "stable": verdicts.count("stable"),
                "warn": verdicts.count("warn"),
                "drift": verdicts.count("drift"),
                "drifted": [item["feature"] for item in results if item["verdict"] == "drift"],
                "warned": [item["feature"] for item in results if item["verdict"] == "warn"],
            },
            "rows": {"reference": len(profile), "current": len(current)},
            "thresholds": limits,
            "importance": importance,
        }
    )


def _parallel(function: Callable[[str], Any], names: Sequence[str]) -> list[Any]:
    """``[function(name) for name in names]`` on one thread per core: the work is NumPy sorting
    and numba walks, which run without the GIL."""
    workers = min(len(names), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                  else (os.cpu_count() or 1))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(function, names))
    return [function(name) for name in names]


def psi(reference_counts: Sequence[float], current_counts: Sequence[float]) -> float:
    """Population stability index of two histograms over the same bins (shares floored)."""
    ref = np.asarray(reference_counts, dtype=float)
    cur = np.asarray(current_counts, dtype=float)
    ref_share = np.maximum(ref / max(ref.sum(), 1.0), EPSILON)
    cur_share = np.maximum(cur / max(cur.sum(), 1.0), EPSILON)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def importance_drift(
    reference: Any, current: Any, thresholds: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Compare two feature importances (dicts, SHAP ``feature_importance`` lists or results)."""
    from scipy.stats import spearmanr

    limits = _thresholds(thresholds)
    ref, cur = _importance(reference, "reference"), _importance(current, "current")
    names = sorted(set(ref) | set(cur), key=lambda n: (-ref.get(n, 0.0), n))
    ref_values = np.array([ref.get(n, 0.0) for n in names])
    cur_values = np.array([cur.get(n, 0.0) for n in names])
    ref_share = ref_values / ref_values.sum() if ref_values.sum() > 0 else ref_values
    cur_share = cur_values / cur_values.sum() if cur_values.sum() > 0 else cur_values
    ref_rank, cur_rank = _ranks(ref_values), _ranks(cur_values)
    shift = float(0.5 * np.abs(cur_share - ref_share).sum())
    correlation = None
    if len(names) >= 2 and np.ptp(ref_values) > 0 and np.ptp(cur_values) > 0:
        correlation = float(spearmanr(ref_values, cur_values).statistic)
    bounds = limits["importance_shift"]
    top = min(5, len(names))
    return {
        "verdict": _verdict(shift, bounds),
        "total_variation": shift,
        "spearman": correlation,
        "top_overlap": len(
            set(np.array(names)[np.argsort(-ref_values, kind="stable")[:top]])
            & set(np.array(names)[np.argsort(-cur_values, kind="stable")[:top]])
        ),
        "top_k": top,
        "features": sorted(
            (
                {
                    "feature": name,
                    "reference_share": float(ref_share[i]),
                    "current_share": float(cur_share[i]),
                    "share_change": float(cur_share[i] - ref_share[i]),
                    "reference_rank": int(ref_rank[i]),
                    "current_rank": int(cur_rank[i]),
                    "rank_change": int(ref_rank[i] - cur_rank[i]),
                }
                for i, name in enumerate(names)
            ),
            key=lambda item: -abs(item["share_change"]),
        ),
    }


def ks_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample Kolmogorov-Smirnov ``(statistic, p-value)`` of sorted samples,
    equal to ``scipy.stats.ks_2samp(a, b)``.

    scipy computes exact p-values up to 10,000 rows a side, and is called for those. Above, the
    statistic is taken from the sorted samples in one merge walk of both (scipy searches the
    unsorted concatenation of both samples in each: many times slower at a million rows). The p-value is scipy's (the Kolmogorov distribution for n = n1*n2/(n1+n2))
    while ``sqrt(n) * D < 1.2``; in the tail beyond, scipy's exact-n computation costs seconds
    per feature at a million rows, so the limiting distribution with Stephens' finite-sample
    correction ``D * (sqrt(n) + 0.12 + 0.11 / sqrt(n))`` is used: within 0.5 % of scipy's value
    for p between 1e-6 and 0.12 (so no verdict moves unless p is within 0.5 % of its threshold)
    and within a few percent in the deeper tail.
    """
    from scipy.stats import distributions, ks_2samp

    n1, n2 = len(a), len(b)
    if max(n1, n2) <= 10_000:
        test = ks_2samp(a, b)
        return float(test.statistic), float(test.pvalue)
    # The empirical CDFs at every observed value; D is their largest gap (as scipy's ``d``).
    max_s, min_s = _sorted_gaps(a, b)
    min_s = float(np.clip(-min_s, 0, 1))
    d = min_s if min_s > max_s else float(max_s)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = np.round(m * n / (m + n))
    root = math.sqrt(en)
    if d * root < 1.2:
        p = distributions.kstwo.sf(d, en)
    else:
        p = distributions.kstwobign.sf(d * (root + 0.12 + 0.11 / root))
    return float(d), float(np.clip(p, 0, 1))


def _numeric(series: pd.Series) -> bool:
    return is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype)


def _numeric_feature(
    name: str, ref: _Side, cur: _Side, bins: int, limits: Mapping[str, Any]
) -> dict[str, Any]:
    ref_present, cur_present = ref.present, cur.present
    edges = ref.edges(bins)
    # Bin i holds edges[i-1] <= v < edges[i]: counts are differences of "how many are below".
    ref_counts = np.diff(np.r_[0, np.searchsorted(ref_present, edges, "left"), ref_present.size])
    cur_counts = np.diff(np.r_[0, np.searchsorted(cur_present, edges, "left"), cur_present.size])
    bounds = [-np.inf, *edges.tolist(), np.inf]
    rows = [
        {
            "lower": bounds[i],
            "upper": bounds[i + 1],
            "reference": int(ref_counts[i]),
            "current": int(cur_counts[i]),
        }
        for i in range(len(edges) + 1)
    ]
    ref_missing, cur_missing = ref.rows - ref_present.size, cur.rows - cur_present.size
    if ref_missing or cur_missing:
        rows.append({"label": MISSING_GROUP, "reference": ref_missing, "current": cur_missing})
    value = psi([r["reference"] for r in rows], [r["current"] for r in rows])
    statistic = pvalue = None
    if ref_present.size and cur_present.size:
        statistic, pvalue = ks_test(ref_present, cur_present)
    verdict, reasons = _feature_verdict(value, pvalue, limits["ks_pvalue"], "KS", limits)
    return {
        "feature": name,
        "type": "numeric",
        "psi": value,
        "ks_statistic": statistic,
        "ks_pvalue": pvalue,
        "verdict": verdict,
        "reasons": reasons,
        "reference": dict(ref.summary),
        "current": dict(cur.summary),
        "mean_shift_sd": _mean_shift(ref.summary, cur.summary),
        "bins": _shares(rows),
    }


def warm_up() -> None:
    """Load (or, with a cold cache, compile) the KS merge walk (see ``kernels.warm_up``)."""
    _sorted_gaps(np.array([0.0, 1.0]), np.array([0.5]))


def _sorted_gaps(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    return _ks_gaps(kernel_input(a, np.float64), kernel_input(b, np.float64))


@jit
def _ks_gaps(a, b):
    """Largest and smallest ``F_a(v) - F_b(v)`` over every value ``v`` of the sorted samples
    ``a`` and ``b`` (``F`` counting values ``<= v``), in one merge walk of the two."""
    n1, n2 = a.shape[0], b.shape[0]
    i = j = 0
    largest, smallest = -np.inf, np.inf
    while i < n1 or j < n2:
        if j >= n2 or (i < n1 and a[i] <= b[j]):
            value = a[i]
        else:
            value = b[j]
        while i < n1 and a[i] == value:
            i += 1
        while j < n2 and b[j] == value:
            j += 1
        gap = i / n1 - j / n2
        largest = max(largest, gap)
        smallest = min(smallest, gap)
    return largest, smallest


def _categorical(
    name: str, ref: pd.Series, cur: pd.Series, limits: Mapping[str, Any]
) -> dict[str, Any]:
    from scipy.stats import chi2_contingency

    ref_counts, cur_counts = _category_counts(ref), _category_counts(cur)
    new = [label for label in cur_counts.index if label not in ref_counts.index]
    categories = list(ref_counts.index[:MAX_CATEGORIES])
    if len(ref_counts) <= MAX_CATEGORIES and len(new) <= MAX_CATEGORIES:
        categories += new
    rows = [
        {"label": c, "reference": int(ref_counts.get(c, 0)), "current": int(cur_counts.get(c, 0))}
        for c in categories
    ]
    other_ref = int(ref_counts.sum()) - sum(r["reference"] for r in rows)
    other_cur = int(cur_counts.sum()) - sum(r["current"] for r in rows)
    if other_ref or other_cur:
        rows.append({"label": OTHER_CATEGORY, "reference": other_ref, "current": other_cur})
    table = np.array([[r["reference"] for r in rows], [r["current"] for r in rows]], dtype=float)
    value = psi(table[0], table[1])
    statistic = pvalue = None
    if table.shape[1] >= 2:
        test = chi2_contingency(table)
        statistic, pvalue = float(test.statistic), float(test.pvalue)
    verdict, reasons = _feature_verdict(value, pvalue, limits["chi2_pvalue"], "chi-square", limits)
    return {
        "feature": name,
        "type": "categorical",
        "psi": value,
        "chi2_statistic": statistic,
        "chi2_pvalue": pvalue,
        "verdict": verdict,
        "reasons": reasons + ([f"new categories: {', '.join(new[:10])}"] if new else []),
        "reference": {"rows": len(ref), "missing_rate": float(ref.isna().mean())},
        "current": {"rows": len(cur), "missing_rate": float(cur.isna().mean())},
        "new_categories": new[:MAX_CATEGORIES],
        "bins": _shares(rows),
    }


def _category_counts(series: pd.Series) -> pd.Series:
    codes, labels = group_codes(series.astype("Int64") if is_bool_dtype(series.dtype) else series)
    counts = np.bincount(codes, minlength=len(labels))
    return pd.Series(counts, index=labels).sort_values(ascending=False, kind="stable")


def _feature_verdict(
    value: float, pvalue: float | None, alpha: float, test: str, limits: Mapping[str, Any]
) -> tuple[str, list[str]]:
    verdict = _verdict(value, limits["psi"])
    reasons = []
    if verdict != "stable":
        reasons.append(
            f"PSI {value:.3f} >= {limits['psi']['alert' if verdict == 'drift' else 'warn']}"
        )
    if pvalue is not None and pvalue < alpha:
        reasons.append(f"{test} p-value {pvalue:.2g} < {alpha}")
        verdict = max(verdict, "warn", key=_ORDER.get)
    return verdict, reasons


def _verdict(value: float, bounds: Mapping[str, float]) -> str:
    if value >= bounds["alert"]:
        return "drift"
    return "warn" if value >= bounds["warn"] else "stable"


def _numeric_summary(values: np.ndarray, rows: int) -> dict[str, Any]:
    """Summary of a side's sorted present ``values`` out of ``rows`` rows."""
    return {
        "rows": rows,
        "missing_rate": (rows - values.size) / rows if rows else None,
        "mean": float(values.mean()) if values.size else None,
        "std": float(values.std(ddof=1)) if values.size > 1 else None,
        "min": float(values[0]) if values.size else None,  # the values are sorted
        "max": float(values[-1]) if values.size else None,
    }


def _mean_shift(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> float | None:
    if ref["std"] is None or cur["mean"] is None:
        return None
    spread = ref["std"]
    return float((cur["mean"] - ref["mean"]) / spread) if spread > 0 else None


def _shares(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ref_total = sum(r["reference"] for r in rows) or 1
    cur_total = sum(r["current"] for r in rows) or 1
    return [
        {
            **r,
            "reference_share": r["reference"] / ref_total,
            "current_share": r["current"] / cur_total,
        }
        for r in rows
    ]


def _importance(value: Any, side: str) -> dict[str, float]:
    if isinstance(value, Mapping) and "feature_importance" in value:
        value = value["feature_importance"]
    if isinstance(value, Mapping):
        items = {str(k): v for k, v in value.items()}
    elif isinstance(value, Sequence) and not isinstance(value, str):
        try:
            items = {str(row["feature"]): row["mean_abs_shap"] for row in value}
        except (TypeError, KeyError) as exc:
            raise JobInputError(
                f"The {side} importance must map features to values or be a SHAP "
                "feature_importance list"
            ) from exc
    else:
        raise JobInputError(f"The {side} importance is not a mapping or a list")
    try:
        parsed = {name: abs(float(v)) for name, v in items.items()}
    except (TypeError, ValueError) as exc:
        raise JobInputError(f"The {side} importance values must be numbers") from exc
    if not parsed:
        raise JobInputError(f"The {side} importance is empty")
    return parsed


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def _thresholds(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = {
        key: dict(value) if isinstance(value, Mapping) else value
        for key, value in DEFAULT_DRIFT_THRESHOLDS.items()
    }
    for key, value in (overrides or {}).items():
        if key not in merged:
            raise JobInputError(
                f"Unknown drift threshold '{key}'; known: {', '.join(DEFAULT_DRIFT_THRESHOLDS)}"
            )
        if isinstance(merged[key], dict):
            if not isinstance(value, Mapping) or set(value) - {"warn", "alert"}:
                raise JobInputError(
                    f'Drift threshold {key} must look like {{"warn": 0.1, "alert": 0.25}}'
                )
            merged[key].update({k: float(v) for k, v in value.items()})
        else:
            merged[key] = float(value)
    return merged
