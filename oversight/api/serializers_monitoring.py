"""Shapes of the post-market monitoring and incident API (Input validates, Output renders)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from common.api import InputSerializer
from oversight.choices import IncidentStatus, MonitoredMetric, Severity, ThresholdDirection
from oversight.models import Incident, IncidentClock, MonitoringCrossing, MonitoringPlan
from oversight.services.incidents import MAX_AFFECTED_PERSONS


def _username(user) -> str | None:
    return getattr(user, "username", None)


class ThresholdInput(InputSerializer):
    metric = serializers.ChoiceField(choices=MonitoredMetric.choices)
    direction = serializers.ChoiceField(choices=ThresholdDirection.choices, default=ThresholdDirection.ABOVE)
    threshold = serializers.FloatField()
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.HIGH)


class MonitoringPlanInput(InputSerializer):
    responsible = serializers.CharField(max_length=150, help_text="Username of the person responsible.")
    cadence_days = serializers.IntegerField(help_text="Review cadence in days (1-366).")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    thresholds = ThresholdInput(many=True)


class ThresholdOutput(serializers.Serializer):
    id = serializers.IntegerField()
    metric = serializers.CharField()
    metric_label = serializers.CharField(source="get_metric_display")
    direction = serializers.CharField()
    threshold = serializers.FloatField()
    severity = serializers.CharField()
    last_job = serializers.IntegerField(source="last_job_id", allow_null=True)
    last_value = serializers.FloatField(allow_null=True)
    last_evaluated_at = serializers.DateTimeField(allow_null=True)


class MonitoringPlanOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    responsible = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()
    thresholds = ThresholdOutput(many=True, source="live_thresholds")

    class Meta:
        model = MonitoringPlan
        fields = ["id", "model", "responsible", "cadence_days", "notes", "thresholds",
                  "created_by", "created_at", "updated_at"]

    def get_responsible(self, obj) -> str | None:
        return _username(obj.responsible)

    def get_created_by(self, obj) -> str | None:
        return _username(obj.created_by)


class CrossingOutput(serializers.ModelSerializer):
    metric = serializers.CharField(source="threshold.metric")
    direction = serializers.CharField(source="threshold.direction")
    threshold = serializers.FloatField(source="threshold.threshold")
    job = serializers.IntegerField(source="job_id")
    finding = serializers.IntegerField(source="finding_id")
    finding_status = serializers.CharField(source="finding.status")
    last_job = serializers.IntegerField(source="last_job_id")
    ended_by_job = serializers.IntegerField(source="ended_by_job_id", allow_null=True)
    open = serializers.SerializerMethodField()

    class Meta:
        model = MonitoringCrossing
        fields = ["id", "metric", "direction", "threshold", "job", "value", "finding",
                  "finding_status", "opened_at", "last_job", "last_value", "ended_at",
                  "ended_by_job", "open"]

    def get_open(self, obj) -> bool:
        return obj.ended_at is None


class IncidentClockOutput(serializers.ModelSerializer):
    class Meta:
        model = IncidentClock
        fields = ["key", "label", "days", "legal_basis"]


class IncidentInput(InputSerializer):
    model = serializers.SlugField()
    version = serializers.IntegerField(required=False, min_value=1)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(help_text="What happened.")
    occurred_at = serializers.DateTimeField()
    became_known_at = serializers.DateTimeField(help_text="When the provider became aware of it.")
    affected_persons = serializers.IntegerField(min_value=0, max_value=MAX_AFFECTED_PERSONS, default=0)
    affected_description = serializers.CharField(required=False, allow_blank=True, default="")
    serious = serializers.BooleanField(default=False)
    seriousness = serializers.SlugField(
        required=False, allow_null=True, default=None,
        help_text="For a serious incident: the kind (an incident clock key, e.g. death).",
    )


class IncidentTransitionInput(InputSerializer):
    status = serializers.ChoiceField(choices=IncidentStatus.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    authority_reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    resolution = serializers.CharField(required=False, allow_blank=True, default="")


class IncidentReclassifyInput(InputSerializer):
    serious = serializers.BooleanField(help_text="Serious incident (EU AI Act Art. 3(49)) or not.")
    seriousness = serializers.SlugField(
        required=False, allow_null=True, default=None,
        help_text="For a serious incident: its kind (an incident clock key); the deadline is "
                  "became_known_at + that kind's days.",
    )
    reason = serializers.CharField(help_text="Why the incident is reclassified.")


class IncidentOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.SerializerMethodField()
    seriousness = serializers.SerializerMethodField()
    reported_by = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()
    blocks_promotion = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id", "model", "version", "title", "description", "occurred_at", "became_known_at",
            "affected_persons", "affected_description", "serious", "seriousness", "clock_days",
            "deadline_at", "overdue", "blocks_promotion", "status", "authority_reference",
            "authority_reported_at", "resolution", "closed_at", "reported_by", "created_at",
            "updated_at",
        ]

    def get_version(self, obj) -> int | None:
        return obj.version.version if obj.version_id else None

    def get_seriousness(self, obj) -> str | None:
        return obj.seriousness.key if obj.seriousness_id else None

    def get_reported_by(self, obj) -> str | None:
        return _username(obj.reported_by)

    def get_overdue(self, obj) -> bool:
        return obj.is_overdue(self.context.get("now") or timezone.now())

    def get_blocks_promotion(self, obj) -> bool:
        return obj.serious and obj.status != IncidentStatus.CLOSED
