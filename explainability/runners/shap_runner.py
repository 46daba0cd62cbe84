"""SHAP values for one model output, split into plan -> chunks -> finalize.

The rules:

- One output is explained: a binary classifier's positive class (``class_index=1``) unless told
  otherwise; a multi-class model needs ``class_index``; a regressor its prediction.
- The explainer is chosen by the estimator: for XGBoost and LightGBM, unless
  ``feature_perturbation="interventional"`` is asked for, ``NativeTreeSHAP``: the exact
  path-dependent values of the framework's own TreeSHAP (``native_tree_shap``; the result's
  ``algorithm`` names which ran); ``TreeExplainer`` for other tree ensembles (scikit-learn
  forests and gradient boosting, or XGBoost/LightGBM when interventional), ``LinearExplainer`` for linear models, and a
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

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .data import check_features
from .errors import JobInputError
from .jsonable import to_jsonable
from .loading import LoadedModel
from .shap_explainers import (
    GAP_TOLERANCE,
    LINEAR_EXPLAINER,
    NATIVE_TREE_SHAP,
    PATH_DEPENDENT_FIRST,
    PERMUTATION_EXPLAINER,
    TREE_EXPLAINER,
    additivity_gap,
    algorithm_label,
    explain_model_specific_with_algorithm,
    explain_permutation,
    explainer_family,
    explainer_label,
    native_capable,
    short_error,
    verified_output_space,
)
from .shap_plan import ShapChunk, ShapPlan, replace_plan, row_seed
from .shap_plots import write_shap_plots

__all__ = [
    "FILES",
    "LINEAR_EXPLAINER",
    "NATIVE_TREE_SHAP",
    "PERMUTATION_EXPLAINER",
    "TREE_EXPLAINER",
    "ShapChunk",
    "ShapPlan",
    "chunk_bounds",
    "compute_shap_chunk",
    "finalize_shap",
    "merge_shap_chunks",
    "prepare_shap",
    "row_seed",
    "run_shap",
]

FILES = {"values": "shap_values.npz", "bar": "shap_bar.svg", "beeswarm": "shap_beeswarm.svg"}

_PROBE_ROWS = 10
_KMEANS_MAX_ROWS = 20_000


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
    feature_perturbation: str = "auto",
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
    feature_perturbation: str = "auto",
    max_evals: int | None = None,
) -> ShapPlan:
    """Choose rows, background and explainer; probe the explainer; return the plan.

    When the model carries feature names they select and order the columns of ``X``; otherwise
    the columns of ``X`` are the features, in order. ``feature_perturbation`` applies to tree
    models ("interventional" uses the background; "tree_path_dependent" the trees' own cover;
    "auto", the default, is path-dependent through the framework's own exact TreeSHAP for XGBoost
    and LightGBM, and interventional for every other tree model).
    """
    if background_method not in ("sample", "kmeans"):
        raise JobInputError("background_method must be 'sample' or 'kmeans'")
    if feature_perturbation not in ("auto", "interventional", "tree_path_dependent"):
        raise JobInputError(
            "feature_perturbation must be 'auto', 'interventional' or 'tree_path_dependent'"
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

    family, reason = explainer_family(model)
    native = family == TREE_EXPLAINER and feature_perturbation != "interventional"
    native = native and native_capable(model)
    if feature_perturbation == "auto":
        feature_perturbation = "tree_path_dependent" if native else "interventional"
    if family in (TREE_EXPLAINER, LINEAR_EXPLAINER):
        tree = family == TREE_EXPLAINER
        candidates: list[tuple[str, str | None]] = [
            (family, feature_perturbation if tree else None)
        ]
        if native:
            candidates.insert(0, (NATIVE_TREE_SHAP, "tree_path_dependent"))
            reason += (
                "; exact path-dependent values from the framework's own TreeSHAP (equal to "
                "shap.TreeExplainer's tree_path_dependent)"
            )
        elif tree and feature_perturbation == "interventional":
            if type(model.model).__name__ in PATH_DEPENDENT_FIRST:
                candidates.insert(0, (family, "tree_path_dependent"))
                reason += (
                    "; tree_path_dependent because shap's interventional algorithm does not "
                    "reproduce HistGradientBoosting's output on every row"
                )
            else:
                candidates.append((family, "tree_path_dependent"))
        failures = []
        for name, perturbation in candidates:
            attempt = replace_plan(plan, explainer=name, feature_perturbation=perturbation)
            try:
                probe = compute_shap_chunk(
                    model, X, attempt, 0, min(_PROBE_ROWS, len(rows)), strict=True
                )
            except Exception as exc:  # shap raises many exception types for unsupported models
                failures.append(f"{explainer_label(name, perturbation)} failed: {short_error(exc)}")
                continue
            space, problem = verified_output_space(model, frame, attempt, probe)
            if space is None:
                failures.append(f"{explainer_label(name, perturbation)}: {problem}")
                continue
            attempt.output_space = space
            attempt.algorithm = probe.algorithm
            attempt.explainer_reason = reason + (
                f"; {'; '.join(failures)}; used {explainer_label(name, perturbation)} instead"
                if failures
                else (f" ({perturbation})" if perturbation and name != NATIVE_TREE_SHAP else "")
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
        values, base = explain_permutation(model, rows, indices, background, plan)
        algorithm = algorithm_label(plan)
    else:
        try:
            values, base, algorithm = explain_model_specific_with_algorithm(
                model, rows, background, plan, check_additivity=True
            )
        except Exception as exc:
            if strict or "additivity" not in str(exc).lower():
                raise
            values, base, algorithm = explain_model_specific_with_algorithm(
                model, rows, background, plan, check_additivity=False
            )
            checked = False
            notes.append(
                f"rows {start}:{stop}: shap's additivity check failed ({short_error(exc)})"
            )
    gap = None if strict else additivity_gap(model, rows, plan, values, base)
    if gap is not None and gap > GAP_TOLERANCE:
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
        algorithm=algorithm,
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
        algorithm=" + ".join(dict.fromkeys(c.algorithm for c in parsed if c.algorithm)) or None,
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
            "algorithm": merged.algorithm or plan.algorithm or algorithm_label(plan),
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
