"""Tier policies: versioned rules per risk tier; a promotion records the version it was judged under."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class TierPolicy(models.Model):
    """The rules for one risk tier, one version of them.

    A version never changes once written: publishing new rules creates the next version and makes
    it the active one (exactly one active version per tier, enforced by a conditional unique
    constraint), so a decision can always name the exact rules it was judged under.
    """

    tier = models.PositiveSmallIntegerField()
    version = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)
    rules = models.JSONField()
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tier", "-version"]
        verbose_name = "tier policy"
        verbose_name_plural = "tier policies"
        constraints = [
            models.UniqueConstraint(fields=["tier", "version"], name="tierpolicy_unique_version"),
            models.UniqueConstraint(
                fields=["tier"], condition=Q(is_active=True), name="tierpolicy_one_active_per_tier"
            ),
            models.CheckConstraint(condition=Q(tier__in=[1, 2, 3]), name="tierpolicy_tier_1_to_3"),
        ]

    def __str__(self) -> str:
        return f"Tier {self.tier} policy v{self.version}" + ("" if self.is_active else " (superseded)")

    def clean(self) -> None:
        from governance.policy import rules_errors

        errors = rules_errors(self.rules)
        if errors:
            raise ValidationError(
                {"rules": [f"{path}: {msg}" for path, msgs in errors.items() for msg in msgs]}
            )

    def stage_rules(self, stage: str) -> dict | None:
        return (self.rules.get("stages") or {}).get(stage)

    def execution_mode(self, stage: str) -> str:
        """'automatic' (the system executes on the final approval) or 'separate' (a person
        executes the approved request): the stage's rule, else the policy's, else automatic."""
        spec = self.stage_rules(stage) or {}
        return spec.get("execution") or (self.rules or {}).get("execution") or "automatic"
