"""Post-market monitoring reads: a model's plan, its crossings, and the figures a monitoring
threshold reads from a job result."""

from __future__ import annotations

import math
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from explainability.choices import JobKind
from governance import permissions as perms
from governance.choices import Role
from governance.models import RoleGrant, User
from oversight.choices import MonitoredMetric
from oversight.models import MonitoringCrossing, MonitoringPlan, MonitoringThreshold

#: The job kind each watched metric is read from.
METRIC_JOB_KIND: dict[str, str] = {
    MonitoredMetric.DRIFT_MAX_PSI: JobKind.DRIFT,
    MonitoredMetric.DRIFT_DRIFTED_FEATURES: JobKind.DRIFT,
    MonitoredMetric.OUTCOME_ACCURACY: JobKind.FAIRNESS,
    MonitoredMetric.OUTCOME_AUC: JobKind.FAIRNESS,
    MonitoredMetric.FAIRNESS_FAILED_METRICS: JobKind.FAIRNESS,
}


def responsible_candidates(model) -> QuerySet[User]:
    """Who may be made responsible for the model's monitoring, in one query, as
    `permissions.explain_cannot_be_responsible_for_monitoring` judges one person: active, not
    an auditor (unless also an admin), and able to see the model (its team, or a role that
    reads everything, or a superuser)."""

    def holds(roles) -> Exists:
        return Exists(RoleGrant.objects.filter(user=OuterRef("pk"), role__in=roles))

    in_team = Exists(User.teams.through.objects.filter(user=OuterRef("pk"), team_id=model.team_id))
    sees = Q(is_superuser=True) | holds(perms.READ_EVERYTHING_ROLES - {Role.AUDITOR}) | in_team
    return (User.objects.filter(is_active=True)
            .filter(holds({Role.ADMIN}) | (~holds({Role.AUDITOR}) & sees))
            .order_by("username"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def metric_value(metric: str, kind: str, result: dict[str, Any] | None) -> float | None:
    """The value of `metric` in a job result of `kind`, or None when the result does not carry
    it (e.g. a fairness job without an outcome analysis, a score-less AUC)."""
    if METRIC_JOB_KIND.get(metric) != kind or not result:
        return None
    if metric == MonitoredMetric.DRIFT_MAX_PSI:
        values = [_number(f.get("psi")) for f in result.get("features") or []]
        values = [v for v in values if v is not None]
        return max(values) if values else None
    if metric == MonitoredMetric.DRIFT_DRIFTED_FEATURES:
        summary = result.get("summary") or {}
        return _number(summary.get("drift"))
    if metric in (MonitoredMetric.OUTCOME_ACCURACY, MonitoredMetric.OUTCOME_AUC):
        overall = (result.get("outcomes") or {}).get("overall") or {}
        return _number(overall.get("accuracy" if metric == MonitoredMetric.OUTCOME_ACCURACY else "auc"))
    if metric == MonitoredMetric.FAIRNESS_FAILED_METRICS:
        metrics = result.get("metrics")
        if not isinstance(metrics, dict):
            return None
        return float(sum(1 for m in metrics.values() if isinstance(m, dict) and m.get("passed") is False))
    return None


def plan_for(model) -> MonitoringPlan | None:
    """The model's post-market monitoring plan with its live thresholds (None: no plan)."""
    return (
        MonitoringPlan.objects.filter(model=model)
        .select_related("model", "responsible", "created_by")
        .prefetch_related(Prefetch(
            "thresholds",
            queryset=MonitoringThreshold.objects.filter(retired_at__isnull=True)
            .select_related("last_job").order_by("metric"),
            to_attr="live_thresholds",
        ))
        .first()
    )


def crossings_for(model) -> QuerySet[MonitoringCrossing]:
    """Every threshold crossing of the model's plan, newest first, with its finding."""
    return (
        MonitoringCrossing.objects.filter(threshold__plan__model=model)
        .select_related("threshold", "finding", "job__model_version", "last_job", "ended_by_job")
        .order_by("-opened_at", "-id")
    )


def monitoring_register_state(model) -> dict[str, Any]:
    """What the compliance matrix reads (register:monitoring_plan): is there a plan, with how
    many live thresholds, who is responsible, and how many crossings are open."""
    return monitoring_register_states([model.pk])[model.pk]


def monitoring_register_states(model_ids: list[int]) -> dict[int, dict[str, Any]]:
    """`monitoring_register_state` for several models, in three queries for the lot."""
    out: dict[int, dict[str, Any]] = {
        pk: {"exists": False, "plan_id": None, "thresholds": 0, "open_crossings": 0,
             "responsible": None, "cadence_days": None, "updated_at": None}
        for pk in model_ids
    }
    plans = (MonitoringPlan.objects.filter(model_id__in=model_ids).select_related("responsible")
             .prefetch_related(Prefetch(
                 "thresholds", queryset=MonitoringThreshold.objects.filter(retired_at__isnull=True),
                 to_attr="live_thresholds")))
    open_crossings = dict(
        MonitoringCrossing.objects.filter(threshold__plan__model_id__in=model_ids,
                                          ended_at__isnull=True)
        .order_by().values_list("threshold__plan__model_id").annotate(n=Count("id"))
    )
    for plan in plans:
        out[plan.model_id] = {
            "exists": True, "plan_id": plan.pk, "thresholds": len(plan.live_thresholds),
            "open_crossings": open_crossings.get(plan.model_id, 0),
            "responsible": plan.responsible.username, "cadence_days": plan.cadence_days,
            "updated_at": plan.updated_at,
        }
    return out
