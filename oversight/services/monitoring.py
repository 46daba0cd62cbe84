"""Post-market monitoring (EU AI Act Art. 72): save a model's plan, and judge the scheduled
drift and outcome jobs' results against its thresholds.

A threshold crossed opens ONE finding for the crossing (not one per result or re-evaluation):
the threshold row is locked while judged, each job result is judged once (`last_job` is the
cursor), and the database allows one open crossing per threshold and one crossing per (threshold,
job). The crossing ends when a result is back within the threshold; a later crossing opens a new
finding. Only results on production versions are judged: the plan watches the model on the market.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.errors import Forbidden, ValidationFailed
from explainability.choices import JobStatus
from explainability.models import Job
from explainability.tasks import prepare_drift_references_later
from governance import audit, notify
from governance import permissions as perms
from governance.events import evidence_changed
from governance.models import User
from oversight.choices import MonitoredMetric, Severity, ThresholdDirection
from oversight.models import Finding, MonitoringCrossing, MonitoringPlan, MonitoringThreshold
from oversight.selectors.monitoring import METRIC_JOB_KIND, metric_value
from registry.choices import Stage
from registry.models import RegisteredModel

log = logging.getLogger(__name__)


def _fail(errors: dict[str, list[str]]) -> None:
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first][0]}", errors=errors)


def _clean_thresholds(raw: Any) -> tuple[list[dict[str, Any]], list[str]]:
    if not isinstance(raw, list) or not raw:
        return [], ["A plan watches at least one metric: give thresholds as a non-empty list."]
    cleaned, problems, seen = [], [], set()
    for index, item in enumerate(raw):
        where = f"thresholds[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: an object with metric, direction and threshold.")
            continue
        metric, direction = item.get("metric"), item.get("direction", ThresholdDirection.ABOVE)
        value, severity = item.get("threshold"), item.get("severity", Severity.HIGH)
        if metric not in MonitoredMetric.values:
            problems.append(f"{where}.metric: choose one of {', '.join(MonitoredMetric.values)}.")
        elif metric in seen:
            problems.append(f"{where}.metric: {metric} is watched twice; one threshold per metric.")
        if direction not in ThresholdDirection.values:
            problems.append(f"{where}.direction: choose one of {', '.join(ThresholdDirection.values)}.")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            problems.append(f"{where}.threshold: a finite number.")
        if severity not in Severity.values:
            problems.append(f"{where}.severity: choose one of {', '.join(Severity.values)}.")
        seen.add(metric)
        cleaned.append({"metric": metric, "direction": direction, "threshold": value,
                        "severity": severity})
    return cleaned, problems


_SEVERITY_RANK = {value: rank for rank, value in enumerate(Severity.values)}


def _loosening(live: list[MonitoringThreshold], cleaned: list[dict[str, Any]]) -> list[str]:
    """What the new thresholds loosen against the live ones, in words: a metric retired, a
    threshold that alerts later (a higher one when alerting above, a lower one when alerting
    below, as `MonitoringThreshold.crossed_by` judges), a changed direction, a lower finding
    severity. Tightening and adding a metric are not loosening."""
    new = {item["metric"]: item for item in cleaned}
    changes = []
    for row in live:
        item = new.get(row.metric)
        if item is None:
            changes.append(f"{row.metric} would be retired")
            continue
        if item["direction"] != row.direction:
            changes.append(f"{row.metric} would alert {item['direction']} instead of {row.direction}")
        elif (item["threshold"] > row.threshold if row.direction == ThresholdDirection.ABOVE
              else item["threshold"] < row.threshold):
            changes.append(f"{row.metric} would alert {row.direction} {item['threshold']:g} "
                           f"instead of {row.threshold:g}")
        if _SEVERITY_RANK[item["severity"]] < _SEVERITY_RANK[row.severity]:
            changes.append(f"{row.metric} would open {item['severity']} findings instead of "
                           f"{row.severity}")
    return changes


def _plan_snapshot(plan: MonitoringPlan | None, thresholds) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {"responsible": plan.responsible.username, "cadence_days": plan.cadence_days,
            "notes": plan.notes,
            "thresholds": [{"metric": t.metric, "direction": t.direction,
                            "threshold": t.threshold, "severity": t.severity} for t in thresholds]}


@transaction.atomic(durable=True)
def monitoring_plan_save(
    *, actor, model: RegisteredModel, responsible: User | None, cadence_days: Any,
    thresholds: Any, notes: str = "",
) -> MonitoringPlan:
    """Create or replace the model's post-market monitoring plan: who is responsible, the review
    cadence (1-366 days) and one threshold per watched metric. A metric dropped from the plan
    retires its threshold (its crossings stay on record); a changed one keeps its history.
    The model's latest production result is judged against the plan once it commits."""
    if refusal := perms.explain_cannot_manage_monitoring_plan(actor, model):
        raise Forbidden(refusal)
    errors: dict[str, list[str]] = {}
    if refusal := perms.explain_cannot_be_responsible_for_monitoring(responsible, model):
        errors["responsible"] = [refusal]
    if isinstance(cadence_days, bool) or not isinstance(cadence_days, int) or not 1 <= cadence_days <= 366:
        errors["cadence_days"] = ["The review cadence is a whole number of days from 1 to 366."]
    cleaned, problems = _clean_thresholds(thresholds)
    if problems:
        errors["thresholds"] = problems
    _fail(errors)
    now = timezone.now()
    # The model row is the lock of its plan: two first saves at once would both create one.
    RegisteredModel.objects.select_for_update().filter(pk=model.pk).first()
    plan = MonitoringPlan.objects.select_for_update().select_related("responsible").filter(model=model).first()
    live = list(plan.thresholds.filter(retired_at__isnull=True).select_for_update()) if plan else []
    if refusal := perms.explain_cannot_loosen_monitoring(actor, _loosening(live, cleaned)):
        raise Forbidden(refusal)
    before = _plan_snapshot(plan, live)
    if plan is None:
        plan = MonitoringPlan.objects.create(
            model=model, responsible=responsible, cadence_days=cadence_days, notes=notes or "",
            created_by=actor,
        )
    else:
        plan.responsible, plan.cadence_days, plan.notes = responsible, cadence_days, notes or ""
        plan.save(update_fields=["responsible", "cadence_days", "notes", "updated_at"])
    by_metric = {t.metric: t for t in live}
    kept = []
    for item in cleaned:
        row = by_metric.pop(item["metric"], None)
        if row is None:
            row = MonitoringThreshold.objects.create(plan=plan, **item)
        elif (row.direction, row.threshold, row.severity) != (item["direction"], item["threshold"], item["severity"]):
            row.direction, row.threshold, row.severity = item["direction"], item["threshold"], item["severity"]
            row.save(update_fields=["direction", "threshold", "severity"])
        kept.append(row)
    for row in by_metric.values():
        row.retired_at = now
        row.save(update_fields=["retired_at"])
    audit.record(
        action="oversight.monitoring_plan.saved", actor=actor, target=plan, model_name=model.name,
        payload={"before": before, "after": _plan_snapshot(plan, kept),
                 "retired": sorted(by_metric)},
    )
    notify([plan.responsible_id], f"Monitoring plan of {model.name}",
           f"{actor.username} made you responsible for the post-market monitoring of "
           f"{model.name} (review every {cadence_days} days).", _link(model))
    name = model.name
    transaction.on_commit(lambda: _evaluate_later(name))
    # The plan relies on the scheduled drift checks: their reference (each production
    # version's training data) is profiled ahead of the first check, if it is not yet.
    prepare_drift_references_later(list(
        model.versions.filter(stage=Stage.PRODUCTION).values_list("pk", flat=True)
    ))
    return plan


def _evaluate_later(model_name: str) -> None:
    from oversight.tasks import evaluate_monitoring

    evaluate_monitoring.delay(model_name)


def _link(model: RegisteredModel) -> str:
    return f"/models/{model.name}/monitoring/"


def _new_results(threshold: MonitoringThreshold, model: RegisteredModel) -> list[Job]:
    """Succeeded results of the metric's job kind on the model's production versions, after the
    threshold's cursor, oldest first; before any, only the newest (a new plan judges the
    current state, not the history)."""
    qs = Job.objects.filter(
        model_version__model=model, model_version__stage=Stage.PRODUCTION,
        kind=METRIC_JOB_KIND[threshold.metric], status=JobStatus.SUCCEEDED,
    ).select_related("model_version")
    last = threshold.last_job
    if last is None:
        newest = qs.order_by("-finished_at", "-id").first()
        return [newest] if newest else []
    after = Q(finished_at__gt=last.finished_at) | Q(finished_at=last.finished_at, id__gt=last.pk)
    return list(qs.filter(after).order_by("finished_at", "id"))


def _open_crossing(threshold, plan, model, job, value, now) -> MonitoringCrossing:
    label = MonitoredMetric(threshold.metric).label
    side = "above" if threshold.direction == ThresholdDirection.ABOVE else "below"
    title = f"Monitoring: {label} {value:g} is {side} the plan's threshold {threshold.threshold:g}"
    description = (
        f"Job #{job.pk} ({job.kind}) on {job.model_version.ref}, finished "
        f"{job.finished_at:%Y-%m-%d %H:%M} UTC, measured {threshold.metric} = {value:g}; the "
        f"post-market monitoring plan alerts {side} {threshold.threshold:g}. Opened automatically; "
        "it stays one finding until a result is back within the threshold."
    )
    finding = Finding.objects.create(
        model=model, version=job.model_version, title=title[:200], description=description,
        severity=threshold.severity, owner=model.owner, opened_by=None,
    )
    crossing = MonitoringCrossing.objects.create(
        threshold=threshold, job=job, value=value, finding=finding, last_job=job, last_value=value,
    )
    audit.record(
        action="governance.finding.opened", actor=None, target=finding, model_name=model.name,
        payload={"after": {"title": finding.title, "severity": finding.severity,
                           "status": finding.status, "version": job.model_version.ref,
                           "owner": model.owner.username if model.owner else None,
                           "source": "monitoring", "job_id": job.pk}},
    )
    audit.record(
        action="oversight.monitoring.threshold_crossed", actor=None, target=crossing,
        model_name=model.name,
        payload={"metric": threshold.metric, "direction": threshold.direction,
                 "threshold": threshold.threshold, "value": value, "job_id": job.pk,
                 "finding_id": finding.pk},
    )
    evidence_changed(model.name)  # a blocking finding: live promotions re-judge after commit
    notify([model.owner_id, plan.responsible_id],
           f"Monitoring threshold crossed on {model.name}: {label}",
           description, f"/findings/{finding.pk}/")
    return crossing


@transaction.atomic(durable=True)
def monitoring_evaluate(*, model_name: str, now=None) -> list[MonitoringCrossing]:
    """Judge the model's new production job results against its plan's live thresholds; returns
    the crossings opened. Safe to run any number of times, concurrently too: each threshold is
    locked while judged and each result is judged once."""
    now = now or timezone.now()
    plan = (MonitoringPlan.objects.select_related("model__owner", "responsible")
            .filter(model__name=model_name).first())
    if plan is None:
        return []
    model = plan.model
    opened: list[MonitoringCrossing] = []
    thresholds = list(
        MonitoringThreshold.objects.select_for_update(of=("self",))
        .filter(plan=plan, retired_at__isnull=True).select_related("last_job").order_by("pk")
    )
    for threshold in thresholds:
        results = _new_results(threshold, model)
        if not results:
            continue
        current = threshold.crossings.filter(ended_at__isnull=True).first()
        for job in results:
            value = metric_value(threshold.metric, job.kind, job.result)
            if value is None:
                continue  # this result does not carry the metric (e.g. no outcome analysis)
            threshold.last_value, threshold.last_evaluated_at = value, now
            if threshold.crossed_by(value):
                if current is None:
                    current = _open_crossing(threshold, plan, model, job, value, now)
                    opened.append(current)
                else:
                    current.last_job, current.last_value = job, value
                    current.save(update_fields=["last_job", "last_value"])
            elif current is not None:
                current.ended_at, current.ended_by_job = now, job
                current.last_job, current.last_value = job, value
                current.save(update_fields=["ended_at", "ended_by_job", "last_job", "last_value"])
                audit.record(
                    action="oversight.monitoring.crossing_ended", actor=None, target=current,
                    model_name=model.name,
                    payload={"metric": threshold.metric, "threshold": threshold.threshold,
                             "value": value, "job_id": job.pk, "finding_id": current.finding_id},
                )
                notify([model.owner_id, plan.responsible_id],
                       f"Monitoring back within threshold on {model.name}",
                       f"Job #{job.pk} measured {threshold.metric} = {value:g}, within the "
                       f"threshold {threshold.threshold:g}. Finding #{current.finding_id} can "
                       "now be remediated and closed.", f"/findings/{current.finding_id}/")
                current = None
        threshold.last_job = results[-1]
        threshold.save(update_fields=["last_job", "last_value", "last_evaluated_at"])
    return opened
