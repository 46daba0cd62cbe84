"""Exact path-dependent SHAP values from the frameworks' own TreeSHAP, for XGBoost and LightGBM.

The rules: these are TreeSHAP's path-dependent values (the trees' cover weights the paths a
missing feature could take; no background data), the same numbers ``shap.TreeExplainer(model)``
returns for these frameworks (it calls them). LightGBM's come from ``predict(pred_contrib=True)``.
XGBoost's come from ``fast_tree_shap`` (float64, exact, many times faster than XGBoost's own
``pred_contribs=True`` on a CPU) when the model is plain gbtree with numeric splits, and from
``pred_contribs=True`` otherwise; either way the base value is XGBoost's own bias term. Values
are in the model's margin (log-odds for binary classifiers, raw margin per class for multi-class,
the prediction for regressors). The result names the algorithm that ran.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import fast_tree_shap
from .loading import LoadedModel

XGBOOST_NATIVE = "XGBoost native TreeSHAP (pred_contribs=True, path-dependent)"
LIGHTGBM_NATIVE = "LightGBM native TreeSHAP (pred_contrib=True, path-dependent)"
XGBOOST_FAST = f"XGBoost trees, {fast_tree_shap.ALGORITHM}"


def framework(model: LoadedModel) -> str | None:
    """``"xgboost"`` or ``"lightgbm"`` when the estimator is one of their tree models."""
    estimator = model.model
    module = type(estimator).__module__ or ""
    if module.startswith("xgboost"):
        booster = _xgboost_booster(estimator)
        if booster is None:
            return None
        import json

        name = json.loads(booster.save_config())["learner"]["gradient_booster"]["name"]
        return "xgboost" if name in ("gbtree", "dart") else None
    if module.startswith("lightgbm"):
        return "lightgbm"
    return None


def explain(
    model: LoadedModel, data: np.ndarray, *, output: int, n_outputs: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """``(values, base_values, algorithm)`` for margin ``output`` (a class for multi-class
    models, 0 otherwise) of the rows ``data`` (features in the model's order)."""
    if framework(model) == "xgboost":
        return _xgboost(model, data, output)
    return _lightgbm(model, data, output, n_outputs)


def _xgboost_booster(estimator: Any) -> Any:
    get_booster = getattr(estimator, "get_booster", None)
    if callable(get_booster):
        try:
            return get_booster()
        except Exception:  # noqa: BLE001 - an unfitted wrapper has no booster
            return None
    return estimator if type(estimator).__name__ == "Booster" else None


def _xgboost(model: LoadedModel, data: np.ndarray, output: int):
    import xgboost

    booster = _xgboost_booster(model.model)
    key = ("fast_tree_shap", output)
    if key not in model.cache:  # once per loaded model (a worker keeps it across chunks)
        reason = fast_tree_shap.supports(booster)
        ensemble = None if reason else fast_tree_shap.build(booster, output, data.shape[1])
        model.cache[key] = ensemble
        # XGBoost's bias term (its base score plus each tree's cover-weighted mean) is the same
        # for every row: read it once from the native call on one row.
        probe = booster.predict(
            xgboost.DMatrix(data[:1]), pred_contribs=True, validate_features=False
        )
        model.cache[key + ("bias",)] = float(_group(probe, output)[0, -1])
    ensemble = model.cache[key]
    bias = model.cache[key + ("bias",)]
    if ensemble is not None:
        values = fast_tree_shap.explain(ensemble, data)
        return values, np.full(len(data), bias), XGBOOST_FAST
    contribs = booster.predict(xgboost.DMatrix(data), pred_contribs=True, validate_features=False)
    contribs = _group(contribs, output).astype(np.float64)
    return contribs[:, :-1], contribs[:, -1].copy(), XGBOOST_NATIVE


def _group(contribs: np.ndarray, output: int) -> np.ndarray:
    return contribs[:, output, :] if contribs.ndim == 3 else contribs


def _lightgbm(model: LoadedModel, data: np.ndarray, output: int, n_outputs: int):
    estimator = model.model
    booster = getattr(estimator, "booster_", estimator)
    contribs = np.asarray(booster.predict(data, pred_contrib=True), dtype=np.float64)
    width = data.shape[1] + 1
    if contribs.shape[1] != width:  # multi-class: one block of features + bias per class
        contribs = contribs.reshape(len(data), -1, width)[:, output, :]
    return contribs[:, :-1], contribs[:, -1].copy(), LIGHTGBM_NATIVE
