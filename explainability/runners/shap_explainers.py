"""Which SHAP explainer a model gets, how it is run, and how its output is verified.

The rules are in ``shap_runner``'s docstring; this module holds the model-specific parts: the
estimator families, the calls into shap for each explainer, picking one output (class) from what
shap returns, and checking ``base + sum(values)`` against the estimator's own outputs.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .loading import LoadedModel
from .shap_plan import ShapChunk, ShapPlan, row_seed

TREE_EXPLAINER = "TreeExplainer"
NATIVE_TREE_SHAP = "NativeTreeSHAP"
LINEAR_EXPLAINER = "LinearExplainer"
PERMUTATION_EXPLAINER = "PermutationExplainer"


TREE_MODELS = {
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
LINEAR_MODELS = {
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
# shap's interventional algorithm mis-handles HistGradientBoosting's binned thresholds on some rows
# (its own additivity check passes while the values miss the estimator's output), so these start
# with the path-dependent algorithm, which reproduces the estimator exactly.
PATH_DEPENDENT_FIRST = {"HistGradientBoostingClassifier", "HistGradientBoostingRegressor"}
GAP_TOLERANCE = 1e-3


def native_capable(model: LoadedModel) -> bool:
    """Whether the framework's own path-dependent TreeSHAP can explain the model."""
    if model.kind not in ("xgboost", "lightgbm"):
        return False
    from . import native_tree_shap

    return native_tree_shap.framework(model) is not None


def explainer_family(model: LoadedModel) -> tuple[str, str]:
    """Which explainer the model's family gets, and why."""
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
    if name in TREE_MODELS or (name == "Booster" and module.startswith(("lightgbm", "xgboost"))):
        return TREE_EXPLAINER, f"{name} is a tree ensemble: exact TreeExplainer"
    if name in LINEAR_MODELS:
        return LINEAR_EXPLAINER, f"{name} is linear: exact LinearExplainer (independent features)"
    return PERMUTATION_EXPLAINER, (
        f"{name} has no model-specific explainer: model-agnostic PermutationExplainer"
    )


def explain_model_specific(
    model: LoadedModel,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    plan: ShapPlan,
    *,
    check_additivity: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Tree or linear SHAP values of ``rows`` for the plan's one output."""
    values, base, _ = explain_model_specific_with_algorithm(
        model, rows, background, plan, check_additivity=check_additivity
    )
    return values, base


def explain_model_specific_with_algorithm(
    model: LoadedModel,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    plan: ShapPlan,
    *,
    check_additivity: bool,
) -> tuple[np.ndarray, np.ndarray, str]:
    """``explain_model_specific`` plus the name of the algorithm that computed the values."""
    import shap

    estimator = model.model
    if plan.explainer == NATIVE_TREE_SHAP:
        from . import native_tree_shap

        output = int(plan.class_index or 0) if plan.n_outputs > 2 else 0
        values, base, algorithm = native_tree_shap.explain(
            model, rows.to_numpy(dtype=np.float64), output=output, n_outputs=plan.n_outputs
        )
        if plan.class_index == 0 and plan.n_outputs == 2:
            values, base = -values, -base  # the one binary margin explains class 1
        return values, base, algorithm
    if plan.explainer == TREE_EXPLAINER:

        def build():
            data = (
                model.model_input(background)
                if plan.feature_perturbation == "interventional"
                else None
            )
            return shap.TreeExplainer(
                estimator, data=data, feature_perturbation=plan.feature_perturbation
            )

        explainer = _cached_explainer(model, plan, background, build)
        explanation = explainer(model.model_input(rows), check_additivity=check_additivity)
    elif plan.explainer == LINEAR_EXPLAINER:
        masker = shap.maskers.Independent(
            background.to_numpy(dtype=float), max_samples=len(background)
        )
        explainer = shap.LinearExplainer(estimator, masker)
        explanation = explainer(rows.to_numpy(dtype=float))
    else:
        raise ValueError(f"unknown explainer {plan.explainer}")
    values, base = one_output(explanation.values, explanation.base_values, plan, len(rows))
    return values, base, algorithm_label(plan)


def _cached_explainer(model: LoadedModel, plan: ShapPlan, background: pd.DataFrame, build):
    """One explainer per model, algorithm and background, kept with the loaded model: every
    chunk of a job on this worker reuses it instead of re-parsing the trees and background.
    The background is keyed by its values (a digest), so another dataset never shares it."""
    import hashlib

    digest = hashlib.sha256(np.ascontiguousarray(background.to_numpy(dtype=float)).tobytes())
    key = ("shap", plan.explainer, plan.feature_perturbation, digest.hexdigest())
    if key not in model.cache:
        for old in [k for k in model.cache if isinstance(k, tuple) and k[:1] == ("shap",)]:
            del model.cache[old]  # one background at a time: explainers hold their data
        model.cache[key] = build()
    return model.cache[key]


def algorithm_label(plan: ShapPlan) -> str:
    """What computed a plan's values, for the result (native runs name themselves)."""
    if plan.explainer == PERMUTATION_EXPLAINER:
        return f"shap.PermutationExplainer (max_evals={plan.max_evals})"
    if plan.explainer == TREE_EXPLAINER:
        return f"shap.TreeExplainer ({plan.feature_perturbation})"
    if plan.explainer == LINEAR_EXPLAINER:
        return "shap.LinearExplainer (independent masker)"
    return plan.explainer


def explain_permutation(
    model: LoadedModel,
    rows: pd.DataFrame,
    indices: Sequence[int],
    background: pd.DataFrame,
    plan: ShapPlan,
) -> tuple[np.ndarray, np.ndarray]:
    """Permutation SHAP values, each row seeded by ``row_seed(seed, row index)``."""
    import shap

    masker = shap.maskers.Independent(background.to_numpy(dtype=float), max_samples=len(background))
    explainer = shap.PermutationExplainer(
        output_function(model, plan), masker, feature_names=plan.feature_names
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


def output_function(model: LoadedModel, plan: ShapPlan):
    """The callable the permutation explainer evaluates: one probability column, or predict."""
    names = plan.feature_names

    def as_frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, columns=names)

    if plan.class_index is None:
        return lambda values: np.asarray(model.predict(as_frame(values)), dtype=float)
    column = plan.class_index
    return lambda values: model.predict_proba(as_frame(values))[:, column]


def one_output(
    values: Any, base_values: Any, plan: ShapPlan, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Values and base values of the plan's class from what shap returned."""
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


def verified_output_space(
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
    for space, reference in reference_outputs(model, rows, plan):
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


def additivity_gap(
    model: LoadedModel, rows: pd.DataFrame, plan: ShapPlan, values: np.ndarray, base: np.ndarray
) -> float | None:
    """Largest ``|base + sum(values) - model output|`` in the plan's output space."""
    total = values.sum(axis=1) + base
    for space, reference in reference_outputs(model, rows, plan):
        usable = np.isfinite(reference)
        if space == plan.output_space and usable.any():
            return float(np.max(np.abs(total[usable] - reference[usable])))
    return None


def reference_outputs(
    model: LoadedModel, rows: pd.DataFrame, plan: ShapPlan
) -> list[tuple[str, np.ndarray]]:
    """The estimator's outputs the SHAP totals may add up to, by output space."""
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


def short_error(exc: Exception, limit: int = 160) -> str:
    """One line naming an exception, for reasons and notes."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def explainer_label(name: str, perturbation: str | None) -> str:
    """``TreeExplainer (interventional)``-style name for reasons."""
    return f"{name} ({perturbation})" if perturbation else name
