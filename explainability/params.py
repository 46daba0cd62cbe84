"""Job parameters: the names each kind accepts, their defaults and bounds, checked at enqueue.

The rule: unknown names and out-of-range values are refused when the job is requested (a 400 that
names them), so a worker never starts on parameters it will reject. What the data must contain
(columns, numeric types) can only be checked by the worker, which fails the job naming it.
"""

from __future__ import annotations

from typing import Any

from common.errors import ValidationFailed
from explainability.choices import JobKind
from governance.fairness import FAIRNESS_METRICS

# name -> (type, default, check) ; check returns an error sentence or None
_SPECS: dict[str, dict[str, tuple[type | tuple[type, ...], Any]]] = {
    JobKind.SHAP: {
        "sample_size": (int, 1000),
        "seed": (int, 0),
        "background_size": (int, 100),
        "background_method": (str, "sample"),
        "class_index": (int, None),
        "feature_perturbation": (str, "auto"),
        "max_evals": (int, None),
        "chunk_rows": (int, None),
    },
    JobKind.FAIRNESS: {
        "label_column": (str, None),
        "sensitive_attributes": (list, None),
        "threshold": ((int, float), 0.5),
        "positive_label": ((int, str, bool), 1),
        "min_group_size": (int, 30),
        "thresholds": (dict, None),
        "filters": (list, None),
        "chunk_rows": (int, None),
    },
    JobKind.DRIFT: {
        "features": (list, None),
        "categorical": (list, None),
        "bins": (int, 10),
        "thresholds": (dict, None),
        "shap_importance": (bool, True),
    },
}

_CHOICES = {
    "background_method": ("sample", "kmeans"),
    "feature_perturbation": ("auto", "interventional", "tree_path_dependent"),
}
_MINIMUM = {
    "sample_size": 1, "background_size": 1, "class_index": 0, "max_evals": 3, "chunk_rows": 1,
    "min_group_size": 1, "bins": 2,
}
_MAXIMUM = {"sample_size": 1_000_000, "background_size": 10_000, "bins": 100}


def _fail(name: str, message: str) -> None:
    raise ValidationFailed(f"params.{name}: {message}", errors={f"params.{name}": [message]})


def normalise(kind: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Return the full parameter set for `kind` (defaults filled in), or raise ValidationFailed."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValidationFailed("params must be a JSON object.", errors={"params": ["not an object"]})
    if kind == JobKind.FAIRNESS and params.get("mode", "model") != "model":
        from explainability.decisions import normalise_params

        return normalise_params(params)  # fairness on recorded decisions (explainability.decisions)
    if kind == JobKind.FAIRNESS and "mode" in params:
        params = {k: v for k, v in params.items() if k != "mode"}
    spec = _SPECS[kind]
    unknown = sorted(set(params) - set(spec))
    if unknown:
        msg = (
            f"Unknown parameter(s) for a {kind} job: {', '.join(unknown)}. "
            f"Known: {', '.join(sorted(spec))}."
        )
        raise ValidationFailed(msg, errors={"params": [msg]})
    out: dict[str, Any] = {}
    for name, (typ, default) in spec.items():
        value = params.get(name, default)
        if value is None:
            out[name] = None
            continue
        if typ is int and (isinstance(value, bool) or not isinstance(value, int)):
            _fail(name, "must be a whole number.")
        if typ is not int and not isinstance(value, typ):
            _fail(name, f"must be of type {_type_name(typ)}.")
        if name in _CHOICES and value not in _CHOICES[name]:
            _fail(name, f"must be one of {', '.join(_CHOICES[name])}.")
        if name in _MINIMUM and value < _MINIMUM[name]:
            _fail(name, f"must be at least {_MINIMUM[name]}.")
        if name in _MAXIMUM and value > _MAXIMUM[name]:
            _fail(name, f"must be at most {_MAXIMUM[name]}.")
        if name in ("sensitive_attributes", "features", "filters", "categorical"):
            if not value or not all(isinstance(v, str) and v for v in value):
                _fail(name, "must be a non-empty list of names.")
            value = list(dict.fromkeys(value))
        out[name] = value
    if kind == JobKind.FAIRNESS:
        threshold = out["threshold"]
        if not 0 <= float(threshold) <= 1:
            _fail("threshold", "the prediction threshold must be between 0 and 1.")
        if out["thresholds"] is not None:
            out["thresholds"] = _fairness_thresholds(out["thresholds"])
    if kind == JobKind.DRIFT and out["thresholds"] is not None:
        out["thresholds"] = _drift_thresholds(out["thresholds"])
    return out


def _type_name(typ) -> str:
    names = {int: "whole number", float: "number", str: "text", bool: "true/false",
             list: "list", dict: "object"}
    if isinstance(typ, tuple):
        return " or ".join(names.get(t, t.__name__) for t in typ)
    return names.get(typ, typ.__name__)


def _fairness_thresholds(value: dict) -> dict[str, dict[str, float]]:
    checked: dict[str, dict[str, float]] = {}
    for metric, bounds in value.items():
        if metric not in FAIRNESS_METRICS:
            _fail("thresholds", f"unknown fairness metric {metric!r}; known: "
                  f"{', '.join(FAIRNESS_METRICS)}.")
        if not isinstance(bounds, dict) or not bounds or set(bounds) - {"min", "max"}:
            _fail("thresholds", f'{metric} must look like {{"max": 0.1}} or {{"min": 0.8}}.')
        for key, bound in bounds.items():
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                _fail("thresholds", f"{metric}.{key} must be a number.")
        checked[metric] = {k: float(v) for k, v in bounds.items()}
    return checked


def _drift_thresholds(value: dict) -> dict[str, Any]:
    """The runner's shape: psi / importance_shift {"warn", "alert"}; ks_pvalue, chi2_pvalue."""
    from explainability.runners.drift import DEFAULT_DRIFT_THRESHOLDS

    checked: dict[str, Any] = {}
    for key, bound in value.items():
        default = DEFAULT_DRIFT_THRESHOLDS.get(key)
        if default is None:
            _fail("thresholds", f"unknown drift threshold {key!r}; known: "
                  f"{', '.join(DEFAULT_DRIFT_THRESHOLDS)}.")
        if isinstance(default, dict):
            if not isinstance(bound, dict) or not bound or set(bound) - {"warn", "alert"}:
                _fail("thresholds", f'{key} must look like {{"warn": 0.1, "alert": 0.25}}.')
            numbers = bound.values()
        else:
            numbers = [bound]
        if any(isinstance(n, bool) or not isinstance(n, (int, float)) or n < 0 for n in numbers):
            _fail("thresholds", f"{key} bounds must be numbers of at least 0.")
        checked[key] = {k: float(v) for k, v in bound.items()} if isinstance(bound, dict) else float(bound)
    return checked
