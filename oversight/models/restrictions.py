"""Use restrictions: what a model may and may not be used for, on whom and where."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from oversight.choices import RestrictionKind


class UseRestriction(models.Model):
    """One restriction on a model's use (an allowed use, a prohibited use, a population or a
    geography), optionally until a date. A restriction is never edited: it is withdrawn (with a
    reason) and a new one recorded, so the record shows what applied when. Past `expires_on` it
    no longer applies and is shown as expired."""

    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.PROTECT, related_name="use_restrictions"
    )
    kind = models.CharField(max_length=20, choices=RestrictionKind.choices)
    text = models.TextField()
    expires_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=RestrictionKind.values),
                                   name="use_restriction_kind_valid"),
            models.CheckConstraint(condition=~Q(text=""), name="use_restriction_text_required"),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | ~Q(withdrawn_reason=""),
                name="use_restriction_withdrawal_needs_reason",
            ),
        ]
        indexes = [models.Index(fields=["model", "withdrawn_at"], name="use_restriction_model_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:80]}"

    def is_expired(self, today: dt.date) -> bool:
        return self.expires_on is not None and self.expires_on < today
