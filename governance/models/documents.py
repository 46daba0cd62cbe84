"""Documentation templates: the rules a model's documentation is written to (records of it live in
`oversight`). Tier policies name template sections, so templates sit beside the policies."""

from __future__ import annotations

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
