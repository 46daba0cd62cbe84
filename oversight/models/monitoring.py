"""Post-market monitoring (EU AI Act Art. 72): a plan per model, its thresholds, and each
crossing of a threshold by a job result (which opens one finding)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from oversight.choices import MonitoredMetric, Severity, ThresholdDirection


class MonitoringPlan(models.Model):
    """A model's post-market monitoring plan: who is responsible, how often the results are
    looked at (cadence), and the thresholds on the scheduled drift and outcome jobs' results.
    One plan per model; it changes only through `monitoring_plan_save`."""

    model = models.OneToOneField(
        "registry.RegisteredModel", on_delete=models.PROTECT, related_name="monitoring_plan"
    )
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="monitoring_plans"
    )
    cadence_days = models.PositiveSmallIntegerField(
        help_text="How often (days) the monitoring results are reviewed."
    )
    notes = models.TextField(blank=True, help_text="What is watched and why; escalation.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model__name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cadence_days__gte=1, cadence_days__lte=366),
                name="monitoringplan_cadence_1_366",
            ),
        ]

    def __str__(self) -> str:
        return f"monitoring plan of model #{self.model_id}"

    def results_due_by(self, thresholds) -> dt.datetime:
        """When a new result is due: the cadence after the newest result judged (or after the
        plan was made). Past it, the scheduled jobs the plan relies on have not been reporting."""
        judged = [t.last_evaluated_at for t in thresholds if t.last_evaluated_at]
        return max(judged, default=self.created_at) + dt.timedelta(days=self.cadence_days)


class MonitoringThreshold(models.Model):
    """One watched metric of a plan: crossed when a job result's value is above (or below) the
    threshold. `last_job` is the newest job result judged against it: an older or the same
    result is never judged again, so re-evaluation opens nothing new. A retired threshold
    (removed from the plan) keeps its crossings."""

    plan = models.ForeignKey(MonitoringPlan, on_delete=models.PROTECT, related_name="thresholds")
    metric = models.CharField(max_length=40, choices=MonitoredMetric.choices)
    direction = models.CharField(max_length=5, choices=ThresholdDirection.choices)
    threshold = models.FloatField()
    severity = models.CharField(
        max_length=10, choices=Severity.choices, default=Severity.HIGH,
        help_text="Severity of the finding a crossing opens.",
    )
    last_job = models.ForeignKey(
        "explainability.Job", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_value = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan_id", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "metric"], condition=Q(retired_at__isnull=True),
                name="monitoringthreshold_one_live_per_metric",
            ),
            models.CheckConstraint(
                condition=Q(metric__in=MonitoredMetric.values), name="monitoringthreshold_metric_valid"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=ThresholdDirection.values),
                name="monitoringthreshold_direction_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.direction} {self.threshold}"

    def crossed_by(self, value: float) -> bool:
        if self.direction == ThresholdDirection.ABOVE:
            return value > self.threshold
        return value < self.threshold


class MonitoringCrossing(models.Model):
    """A threshold crossed: from the first job result beyond it until a result is back within
    it. Exactly one finding per crossing: one open crossing per threshold (a conditional unique
    constraint) and one crossing per (threshold, job) whatever re-evaluates it."""

    threshold = models.ForeignKey(
        MonitoringThreshold, on_delete=models.PROTECT, related_name="crossings"
    )
    job = models.ForeignKey("explainability.Job", on_delete=models.PROTECT, related_name="+")
    value = models.FloatField()
    finding = models.OneToOneField(
        "oversight.Finding", on_delete=models.PROTECT, related_name="monitoring_crossing"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    last_job = models.ForeignKey("explainability.Job", on_delete=models.PROTECT, related_name="+")
    last_value = models.FloatField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by_job = models.ForeignKey(
        "explainability.Job", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["threshold"], condition=Q(ended_at__isnull=True),
                name="monitoringcrossing_one_open_per_threshold",
            ),
            models.UniqueConstraint(
                fields=["threshold", "job"], name="monitoringcrossing_once_per_job"
            ),
        ]

    def __str__(self) -> str:
        return f"crossing of threshold #{self.threshold_id} by job #{self.job_id}"
