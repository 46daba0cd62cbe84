"""Thresholds a job's verdict is judged by: the model's tier policy, else Gatehouse defaults.

The rules: fairness thresholds come from `governance.selectors.policy_for_tier(model.risk_tier)`;
a model without a tier (or before governance defines the policy) is judged by governance's
DEFAULT_FAIRNESS_THRESHOLDS (the seeded policies' values).
Job parameters may tighten a threshold but never loosen it, and the result records which
thresholds were used and where they came from (policy id/version, or "default").
"""

from __future__ import annotations

import math
from typing import Any

from common.errors import ValidationFailed
from governance import selectors as gov_selectors
from governance.fairness import default_fairness_thresholds


def _policy(model) -> Any:
    if model.risk_tier is None:
        return None
    try:
        return gov_selectors.policy_for_tier(model.risk_tier)
    except gov_selectors.NoActivePolicy:  # no policy for the tier yet: judged by the defaults
        return None


def _source(policy: Any, model) -> dict[str, Any]:
    if policy is None:
        reason = "model not risk-assessed" if model.risk_tier is None else "no tier policy found"
        return {"source": "default", "reason": reason, "tier": model.risk_tier}
    return {
        "source": "tier_policy",
        "tier": model.risk_tier,
        "policy_id": getattr(policy, "pk", None),
        "policy_version": getattr(policy, "version", None),
    }


def fairness_thresholds(model) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """(thresholds, provenance) for `model` from its tier policy or the defaults."""
    policy = _policy(model)
    rules = getattr(policy, "rules", None) or {}
    thresholds = rules.get("fairness_thresholds") if isinstance(rules, dict) else None
    if not thresholds:
        return default_fairness_thresholds(), _source(None, model)
    return {k: {b: float(x) for b, x in v.items()} for k, v in thresholds.items()}, _source(
        policy, model
    )


def drift_thresholds(
    model, requested: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Drift thresholds: the policy's `drift_thresholds` rule (if it has one) with the job's
    parameters on top (drift is monitoring, not a gate, so parameters may set any bound). The
    runner fills in its defaults for anything unset."""
    policy = _policy(model)
    rules = getattr(policy, "rules", None) or {}
    found = rules.get("drift_thresholds") if isinstance(rules, dict) else None
    merged: dict[str, Any] = {}
    for source in (found or {}, requested or {}):
        for key, value in source.items():
            if isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    provenance = _source(policy if found else None, model)
    if requested:
        provenance["set_by_params"] = sorted(requested)
    return merged, provenance


def looser_fairness(
    policy: dict[str, dict[str, float]], requested: dict[str, dict[str, float]]
) -> list[str]:
    """Sentences for each requested bound that is looser than (or drops) the policy's."""
    problems = []
    for metric, bounds in requested.items():
        for key, value in bounds.items():
            floor = policy.get(metric, {}).get(key)
            if floor is None:
                continue
            if (key == "max" and value > floor) or (key == "min" and value < floor):
                problems.append(f"{metric}.{key} {value:g} is looser than the policy's {floor:g}")
    return problems


def check_fairness_override(model, requested: dict[str, dict[str, float]] | None) -> None:
    """Refuse (400) parameters that would loosen the policy's thresholds."""
    if not requested:
        return
    policy, _ = fairness_thresholds(model)
    problems = looser_fairness(policy, requested)
    if problems:
        msg = "Job parameters may tighten fairness thresholds but never loosen them: " + "; ".join(
            problems
        ) + "."
        raise ValidationFailed(msg, errors={"params.thresholds": problems})


def effective_fairness(
    model, requested: dict[str, dict[str, float]] | None
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """The stricter of the policy and the requested bounds, per metric and bound."""
    thresholds, provenance = fairness_thresholds(model)
    merged = {k: dict(v) for k, v in thresholds.items()}
    for metric, bounds in (requested or {}).items():
        target = merged.setdefault(metric, {})
        for key, value in bounds.items():
            current = target.get(key)
            if current is None or math.isnan(current):
                target[key] = value
            else:
                target[key] = min(current, value) if key == "max" else max(current, value)
    if requested:
        provenance = {**provenance, "tightened_by_params": sorted(requested)}
    return merged, provenance
