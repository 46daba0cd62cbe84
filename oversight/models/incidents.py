"""Incidents (EU AI Act Art. 73): what happened to whom, and the statutory reporting clock."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from oversight.choices import IncidentStatus


class IncidentClock(models.Model):
    """One kind of serious incident and the days the provider has to report it to the market
    surveillance authority once it became known (Art. 73(2)-(4)). Data, seeded by a migration,
    so a change of the law is a row edit: 15 days by default, 10 for a death, 2 for a
    widespread infringement or a serious disruption of critical infrastructure. An incident
    keeps the days it was reported under (`Incident.clock_days`)."""

    key = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=200)
    days = models.PositiveSmallIntegerField()
    legal_basis = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "key"]
        constraints = [
            models.CheckConstraint(condition=Q(days__gte=1), name="incidentclock_days_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.days} days)"


class Incident(models.Model):
    """An incident on a model (optionally one version). A serious one has a kind, whose clock
    sets its reporting deadline (`became_known_at` + days, stored when reported); while open it
    blocks promotion of the model's versions. Dates are never in the future and it cannot have
    become known before it occurred (check constraints back what the service refuses)."""

    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.PROTECT, related_name="incidents"
    )
    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, null=True, blank=True,
        related_name="incidents",
    )
    title = models.CharField(max_length=200)
    description = models.TextField(help_text="What happened.")
    occurred_at = models.DateTimeField()
    became_known_at = models.DateTimeField()
    affected_persons = models.PositiveIntegerField(default=0)
    affected_description = models.TextField(blank=True, help_text="Who was affected, and how.")
    serious = models.BooleanField(default=False)
    seriousness = models.ForeignKey(
        IncidentClock, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents"
    )
    clock_days = models.PositiveSmallIntegerField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(
        max_length=24, choices=IncidentStatus.choices, default=IncidentStatus.REPORTED,
        db_index=True,
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    authority_reference = models.CharField(max_length=200, blank=True)
    authority_reported_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-became_known_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(became_known_at__gte=F("occurred_at")),
                name="incident_known_after_occurred",
            ),
            models.CheckConstraint(
                condition=Q(serious=True, seriousness__isnull=False, clock_days__isnull=False,
                            deadline_at__isnull=False)
                | Q(serious=False, seriousness__isnull=True, clock_days__isnull=True,
                    deadline_at__isnull=True),
                name="incident_serious_has_clock",
            ),
            models.CheckConstraint(
                condition=Q(status__in=IncidentStatus.values), name="incident_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=IncidentStatus.CLOSED) | Q(closed_at__isnull=False),
                name="incident_closed_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status=IncidentStatus.REPORTED_TO_AUTHORITY)
                | Q(authority_reported_at__isnull=False),
                name="incident_authority_report_dated",
            ),
            models.CheckConstraint(
                condition=~Q(serious=True, status=IncidentStatus.CLOSED)
                | Q(authority_reported_at__isnull=False),
                name="incident_serious_closed_after_report",
            ),
        ]
        indexes = [models.Index(fields=["model", "status"], name="incident_model_status_idx")]

    def __str__(self) -> str:
        return f"incident #{self.pk} {self.title}"

    def is_overdue(self, now) -> bool:
        """Past its deadline (strictly: exactly on the deadline is in time) and not yet reported
        to the authority."""
        return bool(
            self.serious and self.authority_reported_at is None and self.deadline_at is not None
            and now > self.deadline_at
        )
