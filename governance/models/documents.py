"""Regulatory documentation: templates as data, documents per model version, immutable revisions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class DocumentTemplate(models.Model):
    """A documentation template (SR 11-7, EU AI Act Annex IV …), versioned; one active per slug.

    `sections` is a list of {key, title, guidance, sources: [regulation references], required,
    prefill: the registry fact that fills it}. The sources let the portal show a coverage matrix.
    """

    slug = models.SlugField(max_length=50)
    version = models.PositiveIntegerField(default=1)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    sections = models.JSONField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["slug", "version"], name="doctemplate_unique_version"),
            models.UniqueConstraint(
                fields=["slug"], condition=Q(is_active=True), name="doctemplate_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    def section(self, key: str) -> dict | None:
        return next((s for s in self.sections if s["key"] == key), None)

    @property
    def section_keys(self) -> list[str]:
        return [s["key"] for s in self.sections]


class Document(models.Model):
    """The documentation of one model version under one template (one per version and slug).

    Every section save is a new immutable DocumentRevision and bumps `revision`. The model owner
    signs off a revision; any edit after that clears the sign-off.
    """

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="documents"
    )
    template = models.ForeignKey(DocumentTemplate, on_delete=models.PROTECT, related_name="documents")
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

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="sections")
    key = models.CharField(max_length=64)
    text = models.TextField(blank=True)
    revision_number = models.PositiveIntegerField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["document_id", "key"]
        constraints = [
            models.UniqueConstraint(fields=["document", "key"], name="docsection_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} (rev {self.revision_number})"


class DocumentRevision(models.Model):
    """One save of one section: immutable (who, when, what). Diffs are computed between revisions."""

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
        ordering = ["document_id", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"
