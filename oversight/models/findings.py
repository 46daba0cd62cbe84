"""Validation findings and their threaded responses."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from oversight.choices import FindingStatus, Severity


class Finding(models.Model):
    """A validation finding on a model (optionally one version and one document section).

    Unresolved (open or remediated) high/critical findings block promotion. Moving to `accepted`
    needs a written justification (a check constraint backs this).
    """

    audit_object_type = "governance.finding"  # as recorded before the move

    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.PROTECT, related_name="findings"
    )
    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, null=True, blank=True,
        related_name="findings",
    )
    document = models.ForeignKey(
        "oversight.Document", on_delete=models.PROTECT, null=True, blank=True,
        related_name="findings",
    )
    section_key = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, db_index=True)
    status = models.CharField(
        max_length=12, choices=FindingStatus.choices, default=FindingStatus.OPEN, db_index=True
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="owned_findings",
    )
    due_date = models.DateField(null=True, blank=True)
    justification = models.TextField(blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "governance_finding"  # the table kept its name when the model moved
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=FindingStatus.ACCEPTED) | ~Q(justification=""),
                name="finding_accepted_needs_justification",
            ),
        ]
        indexes = [models.Index(fields=["model", "status"], name="finding_model_status_idx")]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title}"


class FindingResponse(models.Model):
    """One message in a finding's thread (challenge, answer, status change note). Evidence: kept."""

    audit_object_type = "governance.findingresponse"  # as recorded before the move

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="responses")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    body = models.TextField()
    status_from = models.CharField(max_length=12, blank=True)
    status_to = models.CharField(max_length=12, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "governance_findingresponse"  # the table kept its name when the model moved
        ordering = ["finding_id", "created_at", "id"]

    def __str__(self) -> str:
        return f"response #{self.pk} on finding #{self.finding_id}"
