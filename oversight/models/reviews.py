"""Periodic review: which models went overdue for which review date (so each is flagged once)."""

from __future__ import annotations

from django.db import models


class ReviewOverdue(models.Model):
    """A model whose periodic review date passed. One row per (model, review date), so the beat
    task flags and notifies each overdue review exactly once, however often it runs."""

    audit_object_type = "governance.reviewoverdue"  # as recorded before the move

    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.PROTECT, related_name="overdue_reviews"
    )
    review_date = models.DateField()
    detected_at = models.DateTimeField(auto_now_add=True)
    notified_user_ids = models.JSONField(default=list, blank=True)

    class Meta:
        db_table = "governance_reviewoverdue"  # the table kept its name when the model moved
        ordering = ["-detected_at"]
        constraints = [
            models.UniqueConstraint(fields=["model", "review_date"], name="reviewoverdue_unique")
        ]

    def __str__(self) -> str:
        return f"review of model #{self.model_id} due {self.review_date} is overdue"
