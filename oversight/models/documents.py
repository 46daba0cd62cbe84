"""Regulatory documentation: documents per model version under a governance template, immutable
revisions, attachments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Document(models.Model):
    """The documentation of one model version under one template (one per version and slug).

    Every section save is a new immutable DocumentRevision and bumps `revision`. The model owner
    signs off a revision; any edit after that clears the sign-off.
    """

    audit_object_type = "governance.document"  # as recorded before the move

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="documents"
    )
    template = models.ForeignKey(
        "governance.DocumentTemplate", on_delete=models.PROTECT, related_name="documents"
    )
    template_slug = models.SlugField(max_length=50)
    revision = models.PositiveIntegerField(default=0)
    facts = models.JSONField(default=dict, blank=True, help_text="What the registry knew at creation.")
    fields = models.JSONField(default=dict, blank=True, help_text="Structured fields (purpose …).")
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_revision = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "governance_document"  # the table kept its name when the model moved
        ordering = ["version_id", "template_slug"]
        constraints = [
            models.UniqueConstraint(fields=["version", "template_slug"], name="document_one_per_template"),
            models.CheckConstraint(
                condition=(
                    Q(signed_off_by__isnull=True, signed_off_at__isnull=True,
                      signed_off_revision__isnull=True)
                    | Q(signed_off_by__isnull=False, signed_off_at__isnull=False,
                        signed_off_revision__isnull=False)
                ),
                name="document_signoff_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_slug} for version #{self.version_id}"

    @property
    def is_signed_off(self) -> bool:
        return self.signed_off_revision is not None and self.signed_off_revision == self.revision


class DocumentSection(models.Model):
    """The current text of one section (a pointer to its latest revision, for fast reads)."""

    audit_object_type = "governance.documentsection"  # as recorded before the move

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="sections")
    key = models.CharField(max_length=64)
    text = models.TextField(blank=True)
    revision_number = models.PositiveIntegerField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "governance_documentsection"  # the table kept its name when the model moved
        ordering = ["document_id", "key"]
        constraints = [
            models.UniqueConstraint(fields=["document", "key"], name="docsection_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} (rev {self.revision_number})"


class DocumentRevision(models.Model):
    """One save of one section: immutable (who, when, what). Diffs are computed between revisions."""

    audit_object_type = "governance.documentrevision"  # as recorded before the move

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    section_key = models.CharField(max_length=64)
    text = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "governance_documentrevision"  # the table kept its name when the model moved
        ordering = ["document_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="docrevision_unique_number")
        ]
        indexes = [models.Index(fields=["document", "section_key"], name="docrevision_section_idx")]

    def __str__(self) -> str:
        return f"revision {self.number} of {self.section_key}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("Document revisions are immutable; save a new revision instead.")
        super().save(*args, **kwargs)


class DocumentAttachment(models.Model):
    """A file attached to a section, kept in the artifact storage under documents/ by its sha256."""

    audit_object_type = "governance.documentattachment"  # as recorded before the move

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="attachments")
    section_key = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    storage_path = models.CharField(max_length=300, help_text="Relative to ARTIFACT_ROOT.")
    revision_number = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "governance_documentattachment"  # the table kept its name when the model moved
        ordering = ["document_id", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class SignOffLapse(models.Model):
    """A sign-off of a production version's document that an edit cleared while the version
    stayed in production. It flags the version (dashboard, readiness) until the owner signs the
    document off again (`resolved_at`), and names the finding opened for the model's owner.
    The edit that caused it, with its revision and author, is kept as it was."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="lapses")
    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="sign_off_lapses"
    )
    signed_off_revision = models.PositiveIntegerField()
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    signed_off_at = models.DateTimeField()
    edit = models.CharField(max_length=300, help_text="What the edit was, in words.")
    revision = models.PositiveIntegerField(help_text="The document's revision after the edit.")
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    finding = models.ForeignKey(
        "oversight.Finding", on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["version", "resolved_at"], name="lapse_version_open_idx")]

    def __str__(self) -> str:
        return f"sign-off of revision {self.signed_off_revision} lapsed ({self.edit})"
