"""Fairness on recorded decisions: the parameters of a `fairness` job with `mode: "decisions"`.

Such a job reads a dataset of a model's past outputs (not its inputs) and never loads a model, so
it runs for vendor versions (no artifact) and in-house ones alike. The rules checked here, at
submission (a 400 naming the parameter), so a worker never starts on a shape it would refuse:

- `prediction_column` and `outcome_column` are required and differ;
- the prediction is a label (`positive_label`), a score (`threshold`) or an ordered category
  mapped by `positive_values` (optionally `negative_values`: any other value then fails the job,
  naming it) -- `threshold` and `positive_values` exclude each other;
- `filters` must parse (`runners.filters`), so a typo is refused before any data is read;
- `score_column` (optional) is the numeric score used for AUC and calibration.

What the data holds (columns present, values inside the mapping, rows left after filtering) can
only be judged by the worker, which fails the job with a sentence naming the problem.
"""

from __future__ import annotations

from typing import Any

from common.errors import ValidationFailed

MODE = "decisions"
MODES = ("model", MODE)

_Scalar = (str, int, float, bool)

# name -> (accepted types, default)
_SPEC: dict[str, tuple[type | tuple[type, ...], Any]] = {
    "mode": (str, MODE),
    "prediction_column": (str, None),
    "outcome_column": (str, None),
    "score_column": (str, None),
    "sensitive_attributes": (list, None),
    "threshold": ((int, float), None),
    "positive_values": (list, None),
    "negative_values": (list, None),
    "positive_label": (_Scalar, 1),
    "filters": (list, None),
    "min_group_size": (int, 30),
    "thresholds": (dict, None),
    "chunk_rows": (int, None),
}


def is_decisions(params: dict[str, Any] | None) -> bool:
    """Is this a fairness job on recorded decisions?"""
    return isinstance(params, dict) and params.get("mode") == MODE


def uses_model(kind: str, params: dict[str, Any] | None) -> bool:
    """Does a job of `kind` with `params` need the version's artifact? SHAP always, model-based
    fairness too; decisions-based fairness and drift never do."""
    return kind == "shap" or (kind == "fairness" and not is_decisions(params))


def _fail(name: str, message: str) -> None:
    raise ValidationFailed(f"params.{name}: {message}", errors={f"params.{name}": [message]})


def _check_type(name: str, value: Any, typ) -> None:
    wanted_int = typ is int
    if wanted_int and (isinstance(value, bool) or not isinstance(value, int)):
        _fail(name, "must be a whole number.")
    if typ == (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        _fail(name, "must be a number.")
    if not wanted_int and not isinstance(value, typ):
        names = {str: "text", list: "list", dict: "object"}
        _fail(name, f"must be {names.get(typ, 'a number, text or true/false')}.")


def _values(name: str, value: list) -> list:
    if not value or not all(isinstance(v, _Scalar) for v in value):
        _fail(name, "must be a non-empty list of values (text, numbers or true/false).")
    return list(dict.fromkeys(value))


def _names(name: str, value: list) -> list[str]:
    if not value or not all(isinstance(v, str) and v for v in value):
        _fail(name, "must be a non-empty list of names.")
    return list(dict.fromkeys(value))


def normalise_params(params: dict[str, Any]) -> dict[str, Any]:
    """The full parameter set of a decisions-based fairness job, or ValidationFailed."""
    from explainability.params import _fairness_thresholds
    from explainability.runners.errors import JobInputError
    from explainability.runners.filters import parse_filters

    if params.get("mode") != MODE:
        _fail("mode", f"must be one of {', '.join(MODES)}.")
    unknown = sorted(set(params) - set(_SPEC))
    if unknown:
        msg = (
            f"Unknown parameter(s) for a fairness job on recorded decisions: {', '.join(unknown)}. "
            f"Known: {', '.join(sorted(_SPEC))}."
        )
        raise ValidationFailed(msg, errors={"params": [msg]})
    out: dict[str, Any] = {}
    for name, (typ, default) in _SPEC.items():
        value = params.get(name, default)
        if value is not None:
            _check_type(name, value, typ)
        out[name] = value
    for name in ("prediction_column", "outcome_column"):
        if not out[name]:
            what = "the column holding the recorded decision or score" if name.startswith(
                "prediction") else "the column holding the true outcome"
            _fail(name, f"is required: {what}.")
    if out["prediction_column"] == out["outcome_column"]:
        _fail("outcome_column", "must differ from prediction_column.")
    for name in ("sensitive_attributes", "filters"):
        if out[name] is not None:
            out[name] = _names(name, out[name])
    for name in ("positive_values", "negative_values"):
        if out[name] is not None:
            out[name] = _values(name, out[name])
    if out["threshold"] is not None and out["positive_values"] is not None:
        _fail("threshold", "give either a score threshold or positive_values, not both.")
    if out["negative_values"] is not None and out["positive_values"] is None:
        _fail("negative_values", "needs positive_values too.")
    if out["positive_values"] and out["negative_values"]:
        both = {str(v) for v in out["positive_values"]} & {str(v) for v in out["negative_values"]}
        if both:
            _fail("negative_values", f"{', '.join(sorted(both))} also in positive_values.")
    if out["threshold"] is not None:
        out["threshold"] = float(out["threshold"])
    for name, minimum in (("min_group_size", 1), ("chunk_rows", 1)):
        if out[name] is not None and out[name] < minimum:
            _fail(name, f"must be at least {minimum}.")
    if out["thresholds"] is not None:
        out["thresholds"] = _fairness_thresholds(out["thresholds"])
    try:
        parse_filters(out["filters"])
    except JobInputError as exc:
        _fail("filters", str(exc))
    return out
