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
