"""The fairness vocabulary: the metric names Gatehouse computes and the default thresholds.

Defined once, here in the lowest layer that needs it (tier policy validation): explainability's
parameters, its runners and policy defaults, and approvals' fairness gate all import these.
Pure data: no ORM.
"""

from __future__ import annotations

#: Every metric a fairness job computes, per sensitive attribute and intersection; a tier policy
#: or a job's parameters may set a threshold on any of them.
FAIRNESS_METRICS: tuple[str, ...] = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "disparate_impact_ratio",
    "equalized_odds_difference",
    "true_positive_rate_difference",
    "false_positive_rate_difference",
)

#: The thresholds of the seeded tier policies, and of a model without a tier policy.
DEFAULT_FAIRNESS_THRESHOLDS: dict[str, dict[str, float]] = {
    "demographic_parity_difference": {"max": 0.10},
    "disparate_impact_ratio": {"min": 0.80},
    "equalized_odds_difference": {"max": 0.10},
}


def default_fairness_thresholds() -> dict[str, dict[str, float]]:
    """A fresh copy (callers may tighten it in place)."""
    return {metric: dict(bounds) for metric, bounds in DEFAULT_FAIRNESS_THRESHOLDS.items()}


def threshold_text(bounds) -> str:
    """A threshold as a person reads it: {"max": 0.1} -> "at most 0.10", {"min": 0.8} -> "at
    least 0.80", both -> "between 0.80 and 1.25"; "—" when there is none."""
    if bounds in (None, "", {}):
        return "—"
    if not isinstance(bounds, dict):
        return _number(bounds)
    low, high = bounds.get("min"), bounds.get("max")
    if low is not None and high is not None:
        return f"between {_number(low)} and {_number(high)}"
    if high is not None:
        return f"at most {_number(high)}"
    if low is not None:
        return f"at least {_number(low)}"
    return "—"


def _number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:g}"
