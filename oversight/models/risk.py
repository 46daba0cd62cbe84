"""Risk assessments: questionnaire answers -> score, tier and EU AI Act class, with history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from governance.choices import EuAiActClass


class RiskAssessment(models.Model):
    """One risk assessment of a registered model; every assessment is kept (the history).

    The newest one is current and sets the model's tier. A validator may override the computed
    tier, only with a written justification (a check constraint backs this), and the override
    stays visible beside the computed tier wherever the tier is shown.
    """

    audit_object_type = "governance.riskassessment"  # as recorded before the move

    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.PROTECT, related_name="risk_assessments"
    )
    questionnaire_version = models.CharField(max_length=20)
    answers = models.JSONField()
    score = models.IntegerField()
    computed_tier = models.PositiveSmallIntegerField()
    override_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    override_justification = models.TextField(blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)
    eu_ai_act_class = models.CharField(max_length=20, choices=EuAiActClass.choices)
    reasons = models.JSONField(default=list)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "governance_riskassessment"  # the table kept its name when the model moved
        ordering = ["model_id", "-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(computed_tier__in=[1, 2, 3]), name="riskassessment_tier_1_to_3"
            ),
            models.CheckConstraint(
                condition=Q(override_tier__isnull=True)
                | (Q(override_tier__in=[1, 2, 3]) & ~Q(override_justification="")),
                name="riskassessment_override_needs_justification",
            ),
        ]

    def __str__(self) -> str:
        return f"risk assessment #{self.pk} of {self.model_id}: tier {self.effective_tier}"

    @property
    def effective_tier(self) -> int:
        return self.override_tier or self.computed_tier

    @property
    def is_overridden(self) -> bool:
        return self.override_tier is not None
