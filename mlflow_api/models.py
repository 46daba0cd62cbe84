"""What MLflow keeps that Gatehouse's registry does not: key/value tags and aliases.

Rows point at registry rows; the registry's own tables are never changed here (except a rename
or the deletion of an empty model, see services). Protected aliases (MLFLOW_PROTECTED_ALIASES)
are never stored: they always resolve to the model's current production version.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Tag(models.Model):
    """One MLflow key/value tag: one value per key of the tagged row."""

    key = models.CharField(max_length=250)
    value = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key}={self.value[:40]}"


class ModelTag(Tag):
    """One MLflow tag of a registered model."""

    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.CASCADE, related_name="mlflow_tags"
    )

    class Meta(Tag.Meta):
        constraints = [
            models.UniqueConstraint(fields=["model", "key"], name="mlflow_modeltag_unique_key"),
            models.CheckConstraint(condition=~Q(key=""), name="mlflow_modeltag_key_not_empty"),
        ]


class VersionTag(Tag):
    """One MLflow tag of a model version."""

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.CASCADE, related_name="mlflow_tags"
    )

    class Meta(Tag.Meta):
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="mlflow_versiontag_unique_key"),
            models.CheckConstraint(condition=~Q(key=""), name="mlflow_versiontag_key_not_empty"),
        ]


class ModelAlias(models.Model):
    """An unprotected alias: a name that points at one version of the model (one per alias).
    The service checks that the version belongs to the model."""

    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.CASCADE, related_name="mlflow_aliases"
    )
    alias = models.CharField(max_length=255)
    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.CASCADE, related_name="mlflow_aliases"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["alias"]
        constraints = [
            models.UniqueConstraint(fields=["model", "alias"], name="mlflow_alias_unique_per_model"),
            models.CheckConstraint(condition=~Q(alias=""), name="mlflow_alias_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.alias} → {self.version_id}"
