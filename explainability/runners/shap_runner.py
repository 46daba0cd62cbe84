"""SHAP values for one model output, split into plan -> chunks -> finalize.

The rules:

- One output is explained: a binary classifier's positive class (``class_index=1``) unless told
  otherwise; a multi-class model needs ``class_index``; a regressor its prediction.
- The explainer is chosen by the estimator: ``TreeExplainer`` for tree ensembles (scikit-learn
  forests and gradient boosting, LightGBM, XGBoost), ``LinearExplainer`` for linear models, and a
  model-agnostic ``PermutationExplainer`` over ``predict_proba[:, class]`` on the raw features for
  everything else (Pipelines, ONNX graphs, other estimators). A model-specific explainer is first
  tried on a few rows with shap's additivity check; if it fails (e.g. multi-class
  HistGradientBoosting, multi-class GradientBoosting) the job falls back to the permutation
  explainer and records why.
- ``output_space`` says what the values add up to: ``probability``, ``log_odds`` (the margin of a
  binary logistic model or boosted trees) or ``raw`` (another margin, or a regression output). It
  is measured, not assumed: the probe rows' ``base + sum(values)`` is compared with the model's
  probability and its logit.
- Everything random is fixed by ``seed`` and written into the JSON-serialisable ``ShapPlan``:
  which rows are explained, the background rows (or k-means centroids), and for the permutation
  explainer a per-row seed derived from ``(seed, row index)``. So any split of the rows into
  chunks, computed on any workers, gives exactly the values of one unsplit run.
"""

import base64
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .data import check_features
from .errors import JobInputError
from .jsonable import to_jsonable
from .loading import LoadedModel
from .shap_plots import write_shap_plots

TREE_EXPLAINER = "TreeExplainer"
LINEAR_EXPLAINER = "LinearExplainer"
PERMUTATION_EXPLAINER = "PermutationExplainer"

FILES = {"values": "shap_values.npz", "bar": "shap_bar.svg", "beeswarm": "shap_beeswarm.svg"}

_TREE_MODELS = {
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "ExtraTreeClassifier",
    "ExtraTreeRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
    "LGBMClassifier",
    "LGBMRegressor",
    "LGBMRanker",
    "XGBClassifier",
    "XGBRegressor",
    "XGBRFClassifier",
    "XGBRFRegressor",
}
_LINEAR_MODELS = {
    "LogisticRegression",
    "LogisticRegressionCV",
    "LinearRegression",
    "Ridge",
    "RidgeCV",
    "Lasso",
    "LassoCV",
    "ElasticNet",
    "ElasticNetCV",
    "SGDClassifier",
    "SGDRegressor",
}
_PROBE_ROWS = 10
# shap's interventional algorithm mis-handles HistGradientBoosting's binned thresholds on some rows
# (its own additivity check passes while the values miss the estimator's output), so these start
# with the path-dependent algorithm, which reproduces the estimator exactly.
_PATH_DEPENDENT_FIRST = {"HistGradientBoostingClassifier", "HistGradientBoostingRegressor"}
_GAP_TOLERANCE = 1e-3
_KMEANS_MAX_ROWS = 20_000


@dataclass
class ShapPlan:
    """Everything a worker needs, besides the model and the data, to compute any chunk."""

    explainer: str
    explainer_reason: str
    output_space: str
    feature_names: list[str]
    n_rows_total: int
    row_indices: list[int]
    seed: int
    background_method: str
    background_indices: list[int] | None = None
    background_data: list[list[float]] | None = None
    class_index: int | None = None
    class_label: Any = None
    n_outputs: int = 1
    feature_perturbation: str | None = None
    max_evals: int | None = None

    @property
    def rows_explained(self) -> int:
        """How many rows the plan explains."""
        return len(self.row_indices)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (what a task passes to the chunk tasks)."""
        return to_jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShapPlan":
        """Inverse of ``to_dict``."""
        return cls(**data)


@dataclass
class ShapChunk:
    """SHAP values of plan rows ``start:stop`` (positions in ``plan.row_indices``)."""

    start: int
    stop: int
    values: np.ndarray
    base_values: np.ndarray
    additivity_checked: bool = True
    additivity_max_gap: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form; arrays travel as base64 float64 bytes (exact round trip)."""
        return {
            "start": self.start,
            "stop": self.stop,
            "values": _encode(self.values),
            "base_values": _encode(self.base_values),
            "additivity_checked": self.additivity_checked,
            "additivity_max_gap": self.additivity_max_gap,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShapChunk":
        """Inverse of ``to_dict``."""
        return cls(
            start=int(data["start"]),
            stop=int(data["stop"]),
            values=_decode(data["values"]),
            base_values=_decode(data["base_values"]),
            additivity_checked=bool(data.get("additivity_checked", True)),
            additivity_max_gap=data.get("additivity_max_gap"),
            notes=list(data.get("notes", [])),
        )


def run_shap(
    model: LoadedModel,
    X: pd.DataFrame,
    *,
    out_dir: str,
    sample_size: int | None = None,
    seed: int = 0,
    background_size: int = 100,
    background_method: str = "sample",
    class_index: int | None = None,
    feature_perturbation: str = "interventional",
    max_evals: int | None = None,
) -> dict[str, Any]:
    """Plan, compute every row in one chunk, and finalize (see ``finalize_shap`` for the result)."""
    plan = prepare_shap(
        model,
        X,
        sample_size=sample_size,
        seed=seed,
        background_size=background_size,
        background_method=background_method,
        class_index=class_index,
        feature_perturbation=feature_perturbation,
        max_evals=max_evals,
    )
    chunk = compute_shap_chunk(model, X, plan, 0, plan.rows_explained)
    return finalize_shap(plan, [chunk], X, out_dir)


def prepare_shap(
    model: LoadedModel,
    X: pd.DataFrame,
    *,
    sample_size: int | None = None,
    seed: int = 0,
    background_size: int = 100,
    background_method: str = "sample",
    class_index: int | None = None,
    feature_perturbation: str = "interventional",
    max_evals: int | None = None,
) -> ShapPlan:
    """Choose rows, background and explainer; probe the explainer; return the plan.

    When the model carries feature names they select and order the columns of ``X``; otherwise
    the columns of ``X`` are the features, in order. ``feature_perturbation`` applies to tree
    models ("interventional" uses the background; "tree_path_dependent" the trees' own cover).
    """
    if background_method not in ("sample", "kmeans"):
        raise JobInputError("background_method must be 'sample' or 'kmeans'")
    if feature_perturbation not in ("interventional", "tree_path_dependent"):
        raise JobInputError(
            "feature_perturbation must be 'interventional' or 'tree_path_dependent'"
        )
    if background_size is None or int(background_size) < 1:
        raise JobInputError("background_size must be at least 1")
    features = _features(model, X)
    frame = check_features(X, features)
    n_rows = len(frame)
    n_outputs, class_index, class_label = _output(model, frame, class_index)

    rng_rows, rng_background = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2)
    )
    if sample_size is not None and int(sample_size) < 1:
        raise JobInputError("sample_size must be at least 1")
    if sample_size is None or int(sample_size) >= n_rows:
        rows = list(range(n_rows))
    else:
        rows = sorted(rng_rows.choice(n_rows, size=int(sample_size), replace=False).tolist())

    plan = ShapPlan(
        explainer=PERMUTATION_EXPLAINER,
        explainer_reason="",
        output_space="probability" if class_index is not None else "raw",
        feature_names=features,
        n_rows_total=n_rows,
        row_indices=rows,
        seed=int(seed),
        background_method=background_method,
        class_index=class_index,
        class_label=class_label,
        n_outputs=n_outputs,
        max_evals=max_evals,
    )
    size = min(int(background_size), n_rows)
    if background_method == "sample":
        plan.background_indices = sorted(
            rng_background.choice(n_rows, size=size, replace=False).tolist()
        )
    else:
        plan.background_data = _kmeans_background(frame, size, rng_background)

    family, reason = _family(model)
    if family in (TREE_EXPLAINER, LINEAR_EXPLAINER):
        tree = family == TREE_EXPLAINER
        candidates: list[tuple[str, str | None]] = [
            (family, feature_perturbation if tree else None)
        ]
        if tree and feature_perturbation == "interventional":
            if type(model.model).__name__ in _PATH_DEPENDENT_FIRST:
                candidates.insert(0, (family, "tree_path_dependent"))
                reason += (
                    "; tree_path_dependent because shap's interventional algorithm does not "
                    "reproduce HistGradientBoosting's output on every row"
                )
            else:
                candidates.append((family, "tree_path_dependent"))
        failures = []
        for name, perturbation in candidates:
            attempt = _replace(plan, explainer=name, feature_perturbation=perturbation)
            try:
                probe = compute_shap_chunk(
                    model, X, attempt, 0, min(_PROBE_ROWS, len(rows)), strict=True
                )
            except Exception as exc:  # shap raises many exception types for unsupported models
                failures.append(f"{_label(name, perturbation)} failed: {_short(exc)}")
                continue
            space, problem = _verified_output_space(model, frame, attempt, probe)
            if space is None:
                failures.append(f"{_label(name, perturbation)}: {problem}")
                continue
            attempt.output_space = space
            attempt.explainer_reason = reason + (
                f"; {'; '.join(failures)}; used {_label(name, perturbation)} instead"
                if failures
                else (f" ({perturbation})" if perturbation else "")
            )
            attempt.max_evals = None
            return attempt
        reason = (
            f"{reason}; {'; '.join(failures)}; fell back to the "
            "model-agnostic PermutationExplainer on the model's output"
        )
    plan.explainer_reason = reason
    plan.max_evals = int(max_evals) if max_evals else max(500, 2 * (2 * len(features) + 1))
    if plan.max_evals < 2 * len(features) + 1:
        raise JobInputError(
            f"max_evals must be at least {2 * len(features) + 1} (2 x features + 1)"
        )
    return plan


def compute_shap_chunk(
    model: LoadedModel,
    X: pd.DataFrame,
    plan: ShapPlan | dict[str, Any],
    start: int,
    stop: int,
    *,
    strict: bool = False,
) -> ShapChunk:
    """SHAP values of ``plan.row_indices[start:stop]``, ``X`` being the full dataset.

    ``strict`` keeps shap's additivity check fatal (used by the probe); otherwise a chunk that
    fails the check is recomputed without it and marked ``additivity_checked=False``. Independently
    of shap, ``additivity_max_gap`` measures how far ``base + sum(values)`` is from the estimator's
    own output in the plan's output space (``None`` when that output is not available).
    """
    if isinstance(plan, dict):
        plan = ShapPlan.from_dict(plan)
    frame = check_features(X, plan.feature_names)
    if len(frame) != plan.n_rows_total:
        raise JobInputError(
            f"The dataset has {len(frame)} rows but the SHAP plan was made for "
            f"{plan.n_rows_total}; it changed between planning and computing"
        )
    if not 0 <= start <= stop <= plan.rows_explained:
        raise ValueError(f"chunk {start}:{stop} is outside 0:{plan.rows_explained}")
    indices = plan.row_indices[start:stop]
    rows = frame.iloc[indices]
    background = _background(frame, plan)
    notes: list[str] = []
    checked = True
    if len(rows) == 0:
        empty = np.empty((0, len(plan.feature_names)))
        return ShapChunk(start, stop, empty, np.empty(0))
    if plan.explainer == PERMUTATION_EXPLAINER:
        values, base = _permutation(model, rows, indices, background, plan)
    else:
        try:
            values, base = _model_specific(model, rows, background, plan, check_additivity=True)
        except Exception as exc:
            if strict or "additivity" not in str(exc).lower():
                raise
            values, base = _model_specific(model, rows, background, plan, check_additivity=False)
            checked = False
            notes.append(f"rows {start}:{stop}: shap's additivity check failed ({_short(exc)})")
    gap = None if strict else _additivity_gap(model, rows, plan, values, base)
    if gap is not None and gap > _GAP_TOLERANCE:
        notes.append(
            f"rows {start}:{stop}: base + sum(SHAP) misses the model's {plan.output_space} "
            f"output by up to {gap:.3g}"
        )
    return ShapChunk(
        start,
        stop,
        values,
        base,
        additivity_checked=checked,
        additivity_max_gap=gap,
        notes=notes,
    )


def chunk_bounds(plan: ShapPlan | dict[str, Any], chunk_rows: int) -> list[tuple[int, int]]:
    """``(start, stop)`` pairs covering the plan's rows in chunks of at most ``chunk_rows``."""
    total = plan["row_indices"] if isinstance(plan, dict) else plan.row_indices
    step = max(1, int(chunk_rows))
    return [(start, min(start + step, len(total))) for start in range(0, len(total), step)]


def merge_shap_chunks(
    plan: ShapPlan | dict[str, Any], chunks: Sequence[ShapChunk | dict[str, Any]]
) -> ShapChunk:
    """One chunk from many, checking they cover the plan's rows exactly once, in order."""
    if isinstance(plan, dict):
        plan = ShapPlan.from_dict(plan)
    parsed = sorted(
        (c if isinstance(c, ShapChunk) else ShapChunk.from_dict(c) for c in chunks),
        key=lambda c: c.start,
    )
    position = 0
    for chunk in parsed:
        if chunk.start != position:
            raise ValueError(f"SHAP chunks leave a gap or overlap at row {position}")
        position = chunk.stop
    if position != plan.rows_explained:
        raise ValueError(f"SHAP chunks cover {position} rows of {plan.rows_explained}")
    width = len(plan.feature_names)
    return ShapChunk(
        start=0,
        stop=position,
        values=np.concatenate([c.values.reshape(-1, width) for c in parsed]),
        base_values=np.concatenate([c.base_values.reshape(-1) for c in parsed]),
        additivity_checked=all(c.additivity_checked for c in parsed),
        additivity_max_gap=max(
            (c.additivity_max_gap for c in parsed if c.additivity_max_gap is not None),
            default=None,
        ),
        notes=[note for c in parsed for note in c.notes],
    )


def finalize_shap(
    plan: ShapPlan | dict[str, Any],
    chunks: Sequence[ShapChunk | dict[str, Any]],
    X: pd.DataFrame,
    out_dir: str,
) -> dict[str, Any]:
    """Merge the chunks, write ``shap_values.npz`` and the two SVGs, and return the result.

    The npz holds ``values`` (rows x features), ``base_values``, ``data`` (the explained rows),
    ``feature_names``, ``row_indices`` (positions in ``X``) and ``background``; it loads with
    ``allow_pickle=False``.

    Result: ``explainer``, ``explainer_reason``, ``output_space``, ``base_value``,
    ``feature_importance`` (``[{"feature", "mean_abs_shap", "mean_shap"}]``, largest first),
    ``rows_explained``, ``rows_total``, ``class_index``, ``class_label``, ``background``
    (``{"method", "size"}``), ``feature_perturbation``, ``max_evals``, ``seed``,
    ``additivity_checked`` (shap's own check), ``additivity_max_gap`` (largest
    ``|base + sum(values) - model output|`` over the rows, measured against the estimator),
    ``notes`` and ``files`` (names relative to ``out_dir``).
    """
    if isinstance(plan, dict):
        plan = ShapPlan.from_dict(plan)
    merged = merge_shap_chunks(plan, chunks)
    frame = check_features(X, plan.feature_names)
    sample = frame.iloc[plan.row_indices].to_numpy(dtype=float)
    os.makedirs(out_dir, exist_ok=True)
    np.savez_compressed(
        os.path.join(out_dir, FILES["values"]),
        values=merged.values,
        base_values=merged.base_values,
        data=sample,
        feature_names=np.asarray(plan.feature_names, dtype=str),
        row_indices=np.asarray(plan.row_indices, dtype=np.int64),
        background=_background(frame, plan).to_numpy(dtype=float),
    )
    base_value = float(np.mean(merged.base_values)) if len(merged.base_values) else float("nan")
    notes = list(merged.notes)
    if merged.values.size:
        notes += write_shap_plots(
            merged.values,
            sample,
            plan.feature_names,
            base_value,
            out_dir,
            bar_name=FILES["bar"],
            beeswarm_name=FILES["beeswarm"],
        )
    mean_abs = np.abs(merged.values).mean(axis=0) if len(merged.values) else np.zeros(0)
    mean = merged.values.mean(axis=0) if len(merged.values) else np.zeros(0)
    order = np.argsort(-mean_abs, kind="stable")
    background_size = (
        len(plan.background_indices)
        if plan.background_indices is not None
        else len(plan.background_data or [])
    )
    return to_jsonable(
        {
            "explainer": plan.explainer,
            "explainer_reason": plan.explainer_reason,
            "output_space": plan.output_space,
            "base_value": base_value,
            "feature_importance": [
                {
                    "feature": plan.feature_names[i],
                    "mean_abs_shap": mean_abs[i],
                    "mean_shap": mean[i],
                }
                for i in order
            ],
            "rows_explained": plan.rows_explained,
            "rows_total": plan.n_rows_total,
            "class_index": plan.class_index,
            "class_label": plan.class_label,
            "background": {"method": plan.background_method, "size": background_size},
            "feature_perturbation": plan.feature_perturbation,
            "max_evals": plan.max_evals,
            "seed": plan.seed,
            "additivity_checked": merged.additivity_checked,
            "additivity_max_gap": merged.additivity_max_gap,
            "notes": notes,
            "files": dict(FILES),
        }
    )


def row_seed(seed: int, row_index: int) -> int:
    """The permutation explainer's seed for one row: independent of how rows are chunked."""
    return int(np.random.SeedSequence([int(seed), int(row_index)]).generate_state(1)[0])


def _features(model: LoadedModel, X: pd.DataFrame) -> list[str]:
    if not isinstance(X, pd.DataFrame):
        raise JobInputError("SHAP needs the dataset as a table with named columns")
    features = list(model.feature_names) if model.feature_names else [str(c) for c in X.columns]
    expected = getattr(model.model, "n_features_in_", None) or getattr(
        model.model, "n_features", None
    )
    if isinstance(expected, int) and expected != len(features):
        raise JobInputError(
            f"The model takes {expected} features but the dataset gives {len(features)} "
            f"({', '.join(features[:30])}); select exactly the model's feature columns"
        )
    return features


def _output(
    model: LoadedModel, frame: pd.DataFrame, class_index: int | None
) -> tuple[int, int | None, Any]:
    if not model.is_classifier:
        if class_index is not None:
            raise JobInputError("class_index was given but the model has no predict_proba")
        return 1, None, None
    width = model.predict_proba(frame.iloc[:2]).shape[1]
    if class_index is None:
        if width != 2:
            raise JobInputError(
                f"The model has {width} classes; choose which one to explain with class_index "
                f"(0 to {width - 1})"
            )
        class_index = 1
    if not 0 <= int(class_index) < width:
        raise JobInputError(f"class_index must be between 0 and {width - 1}")
    classes = model.classes
    label = classes[int(class_index)] if classes and len(classes) == width else int(class_index)
    return width, int(class_index), label


def _family(model: LoadedModel) -> tuple[str, str]:
    if model.kind == "onnx":
        return PERMUTATION_EXPLAINER, (
            "ONNX graph: explained model-agnostically through its output on the raw features"
        )
    if model.kind == "pipeline":
        return PERMUTATION_EXPLAINER, (
            "scikit-learn Pipeline: explained model-agnostically through its output on the raw "
            "(pre-transformation) features"
        )
    name = type(model.model).__name__
    module = type(model.model).__module__
    if name in _TREE_MODELS or (name == "Booster" and module.startswith(("lightgbm", "xgboost"))):
        return TREE_EXPLAINER, f"{name} is a tree ensemble: exact TreeExplainer"
    if name in _LINEAR_MODELS:
        return LINEAR_EXPLAINER, f"{name} is linear: exact LinearExplainer (independent features)"
    return PERMUTATION_EXPLAINER, (
        f"{name} has no model-specific explainer: model-agnostic PermutationExplainer"
    )


def _background(frame: pd.DataFrame, plan: ShapPlan) -> pd.DataFrame:
    if plan.background_indices is not None:
        return frame.iloc[plan.background_indices]
    return pd.DataFrame(
        np.asarray(plan.background_data, dtype=float), columns=plan.feature_names
    ).astype(frame.dtypes.to_dict(), errors="ignore")


def _kmeans_background(
    frame: pd.DataFrame, size: int, rng: np.random.Generator
) -> list[list[float]]:
    import shap

    source = frame
    if len(frame) > _KMEANS_MAX_ROWS:
        source = frame.iloc[np.sort(rng.choice(len(frame), _KMEANS_MAX_ROWS, replace=False))]
    distinct = len(source.drop_duplicates())
    summary = shap.kmeans(source.to_numpy(dtype=float), min(size, distinct))
    return np.asarray(summary.data, dtype=float).tolist()


def _model_specific(
    model: LoadedModel,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    plan: ShapPlan,
    *,
    check_additivity: bool,
) -> tuple[np.ndarray, np.ndarray]:
    import shap

    estimator = model.model
    if plan.explainer == TREE_EXPLAINER:
        data = (
            model.model_input(background) if plan.feature_perturbation == "interventional" else None
        )
        explainer = shap.TreeExplainer(
            estimator, data=data, feature_perturbation=plan.feature_perturbation
        )
        explanation = explainer(model.model_input(rows), check_additivity=check_additivity)
    elif plan.explainer == LINEAR_EXPLAINER:
        masker = shap.maskers.Independent(
            background.to_numpy(dtype=float), max_samples=len(background)
        )
        explainer = shap.LinearExplainer(estimator, masker)
        explanation = explainer(rows.to_numpy(dtype=float))
    else:
        raise ValueError(f"unknown explainer {plan.explainer}")
    return _one_output(explanation.values, explanation.base_values, plan, len(rows))


def _permutation(
    model: LoadedModel,
    rows: pd.DataFrame,
    indices: Sequence[int],
    background: pd.DataFrame,
    plan: ShapPlan,
) -> tuple[np.ndarray, np.ndarray]:
    import shap

    masker = shap.maskers.Independent(background.to_numpy(dtype=float), max_samples=len(background))
    explainer = shap.PermutationExplainer(
        _output_function(model, plan), masker, feature_names=plan.feature_names
    )
    data = rows.to_numpy(dtype=float)
    values = np.empty((len(rows), len(plan.feature_names)))
    base = np.empty(len(rows))
    state = np.random.get_state()  # shap draws from NumPy's global generator
    try:
        for position, row_index in enumerate(indices):
            np.random.seed(row_seed(plan.seed, row_index))
            explanation = explainer(
                data[position : position + 1], max_evals=plan.max_evals, silent=True
            )
            values[position] = np.asarray(explanation.values, dtype=float).reshape(-1)
            base[position] = float(np.asarray(explanation.base_values).reshape(-1)[0])
    finally:
        np.random.set_state(state)
    return values, base


def _output_function(model: LoadedModel, plan: ShapPlan):
    names = plan.feature_names

    def as_frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, columns=names)

    if plan.class_index is None:
        return lambda values: np.asarray(model.predict(as_frame(values)), dtype=float)
    column = plan.class_index
    return lambda values: model.predict_proba(as_frame(values))[:, column]


def _one_output(
    values: Any, base_values: Any, plan: ShapPlan, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=float)
    base = np.asarray(base_values, dtype=float)
    if values.ndim == 3:
        column = plan.class_index or 0
        values = values[:, :, column]
        base = base.reshape(n_rows, -1)[:, column] if base.size > 1 else base
    elif plan.class_index == 0 and plan.n_outputs == 2:
        # one margin for a binary model explains class 1; class 0's margin is its negation
        values, base = -values, -base
    return values.reshape(n_rows, -1), np.broadcast_to(base.reshape(-1), (n_rows,)).copy()


def _verified_output_space(
    model: LoadedModel, frame: pd.DataFrame, plan: ShapPlan, probe: ShapChunk
) -> tuple[str | None, str]:
    """Which model output ``base + sum(values)`` reproduces on the probe rows.

    shap's own additivity check compares with shap's internal copy of the trees, which can itself
    be wrong (seen with HistGradientBoosting), so the check here is against the estimator.
    Returns ``(None, why)`` when the values add up to none of the model's outputs.
    """
    rows = frame.iloc[plan.row_indices[probe.start : probe.stop]]
    total = probe.values.sum(axis=1) + probe.base_values
    gaps: list[float] = []
    for space, reference in _reference_outputs(model, rows, plan):
        usable = np.isfinite(reference)
        if not usable.any():
            continue
        gap = np.abs(total[usable] - reference[usable])
        if np.allclose(total[usable], reference[usable], rtol=1e-4, atol=1e-4):
            return space, ""
        gaps.append(float(gap.max()))
    if not gaps:
        return "raw", ""
    return None, (f"values do not add up to the model's output (smallest max gap {min(gaps):.3g})")


def _additivity_gap(
    model: LoadedModel, rows: pd.DataFrame, plan: ShapPlan, values: np.ndarray, base: np.ndarray
) -> float | None:
    total = values.sum(axis=1) + base
    for space, reference in _reference_outputs(model, rows, plan):
        usable = np.isfinite(reference)
        if space == plan.output_space and usable.any():
            return float(np.max(np.abs(total[usable] - reference[usable])))
    return None


def _reference_outputs(
    model: LoadedModel, rows: pd.DataFrame, plan: ShapPlan
) -> list[tuple[str, np.ndarray]]:
    estimator = model.model
    references: list[tuple[str, np.ndarray]] = []
    if plan.class_index is None:
        return [("raw", np.asarray(model.predict(rows), dtype=float).reshape(-1))]
    p = model.predict_proba(rows)[:, plan.class_index]
    references.append(("probability", p))
    if plan.n_outputs == 2:
        with np.errstate(divide="ignore", invalid="ignore"):
            logit = np.log(p / (1 - p))
        references.append(("log_odds", np.where((p > 1e-9) & (p < 1 - 1e-9), logit, np.nan)))
    margin = None
    model_input = model.model_input(rows)
    try:
        if type(estimator).__module__.startswith("lightgbm"):
            margin = estimator.predict(model_input, raw_score=True)
        elif type(estimator).__module__.startswith("xgboost"):
            margin = estimator.predict(model_input, output_margin=True)
        elif hasattr(estimator, "decision_function"):
            margin = estimator.decision_function(model_input)
    except (TypeError, ValueError, AttributeError):
        margin = None
    if margin is not None:
        margin = np.asarray(margin, dtype=float)
        if margin.ndim == 2 and margin.shape[1] == plan.n_outputs:
            references.append(("raw", margin[:, plan.class_index]))
        elif margin.ndim == 1 and plan.n_outputs == 2:
            references.append(("raw", margin if plan.class_index == 1 else -margin))
    return references


def _replace(plan: ShapPlan, **changes: Any) -> ShapPlan:
    return ShapPlan(**{**asdict(plan), **changes})


def _encode(array: np.ndarray) -> dict[str, Any]:
    array = np.ascontiguousarray(array, dtype="<f8")
    return {
        "dtype": "<f8",
        "shape": list(array.shape),
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def _decode(data: dict[str, Any]) -> np.ndarray:
    raw = base64.b64decode(data["data"])
    return np.frombuffer(raw, dtype=np.dtype(data["dtype"])).reshape(data["shape"]).copy()


def _short(exc: Exception, limit: int = 160) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _label(name: str, perturbation: str | None) -> str:
    return f"{name} ({perturbation})" if perturbation else name
