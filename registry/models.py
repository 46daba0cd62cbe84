"""What exists: registered models, their versions, datasets and the lineage between them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from registry.choices import ArtifactFormat, DataFormat, EdgeKind, Stage, VersionKind


class Artifact(models.Model):
    """A stored file (model artifact or dataset file), addressed by its sha256; never changes."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField()
    storage_path = models.CharField(max_length=300, help_text="Relative to ARTIFACT_ROOT.")
    original_name = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.original_name or 'artifact'} ({self.sha256[:12]})"


class RegisteredModel(models.Model):
    """A model in the inventory, owned by a team. `risk_tier` is empty until governance assesses it."""

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    team = models.ForeignKey("governance.Team", on_delete=models.PROTECT, related_name="models")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_models",
        null=True, blank=True,
    )
    developers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="developed_models", blank=True
    )
    business_use_case = models.TextField(blank=True)
    intended_use = models.TextField(blank=True)
    limitations = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    risk_tier = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    eu_ai_act_class = models.CharField(max_length=20, blank=True, db_index=True)
    next_review_date = models.DateField(null=True, blank=True, db_index=True)
    # The highest version number handed out. Registration increments it in one UPDATE that also
    # locks the row, so concurrent registrations queue for distinct numbers; versions are never
    # deleted, so it is also the model's version count (list pages read it, not a COUNT per row).
    latest_version = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(risk_tier__isnull=True) | Q(risk_tier__in=[1, 2, 3]),
                name="model_risk_tier_1_to_3",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One immutable registration of a model: artifact, code, data and parents never change.

    `version` is assigned by the server (1, 2, 3 …) under a lock on the parent model row; the
    unique constraint is the last line of defence against duplicates.
    """

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.DEVELOPMENT)
    kind = models.CharField(max_length=20, choices=VersionKind.choices, default=VersionKind.ARTIFACT)
    artifact = models.ForeignKey(
        Artifact, on_delete=models.PROTECT, null=True, blank=True, related_name="model_versions"
    )
    artifact_uri = models.CharField(max_length=1000, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    artifact_format = models.CharField(max_length=10, choices=ArtifactFormat.choices, blank=True)
    framework = models.CharField(max_length=100, blank=True)
    framework_version = models.CharField(max_length=50, blank=True)
    code_repository = models.CharField(max_length=500, blank=True)
    code_commit = models.CharField(max_length=100, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    environment = models.JSONField(default=dict, blank=True)
    signature = models.JSONField(default=dict, blank=True)
    vendor = models.JSONField(
        default=dict, blank=True, help_text="Vendor name, product, version, contract reference."
    )
    provenance = models.JSONField(default=dict, blank=True, help_text="e.g. MLflow source/run.")
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    exclusive_production = models.BooleanField(
        default=True,
        help_text="False when the tier policy allows more than one version in production.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="modelversion_unique_number"),
            models.CheckConstraint(
                condition=Q(kind=VersionKind.VENDOR) | ~Q(artifact_sha256=""),
                name="modelversion_artifact_has_sha256",
            ),
            # At most one production version per model, unless the policy allows several.
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(stage=Stage.PRODUCTION, exclusive_production=True),
                name="modelversion_one_exclusive_production",
            ),
        ]
        indexes = [models.Index(fields=["stage", "model"], name="modelversion_stage_idx")]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.version}"

    @property
    def ref(self) -> str:
        return f"{self.model.name}@{self.version}"


class Dataset(models.Model):
    """A named data set; declares whether it holds personal data and its sensitive attributes."""

    name = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    team = models.ForeignKey("governance.Team", on_delete=models.PROTECT, related_name="datasets")
    contains_personal_data = models.BooleanField(default=False)
    sensitive_attributes = models.JSONField(default=list, blank=True)
    # As RegisteredModel.latest_version: the last number handed out, which is also the count.
    latest_version = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DatasetVersion(models.Model):
    """One immutable version of a dataset: a URI with a declared sha256, or an uploaded file."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    uri = models.CharField(max_length=1000, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    file = models.ForeignKey(
        Artifact, on_delete=models.PROTECT, null=True, blank=True, related_name="dataset_versions"
    )
    data_format = models.CharField(max_length=10, choices=DataFormat.choices, default=DataFormat.EXTERNAL)
    row_count = models.BigIntegerField(null=True, blank=True)
    schema = models.JSONField(default=list, blank=True, help_text="[{name, type}]")
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "version"], name="datasetversion_unique_number"),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_end__isnull=True)
                | Q(window_start__lte=models.F("window_end")),
                name="datasetversion_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name}@{self.version}"

    @property
    def ref(self) -> str:
        return f"{self.dataset.name}@{self.version}"


class LineageEdge(models.Model):
    """A typed edge into a model version, from a dataset version or a parent model version.

    Written in the same transaction as the version that declares it, and never changed.
    Exactly one upstream is set; `derived_from` comes from a model, the others from data.
    """

    kind = models.CharField(max_length=20, choices=EdgeKind.choices)
    upstream_dataset = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="downstream_edges"
    )
    upstream_model = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="downstream_edges"
    )
    downstream_model = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="upstream_edges"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind=EdgeKind.DERIVED_FROM, upstream_model__isnull=False, upstream_dataset__isnull=True)
                    | Q(
                        kind__in=[EdgeKind.TRAINED_ON, EdgeKind.EVALUATED_ON],
                        upstream_dataset__isnull=False,
                        upstream_model__isnull=True,
                    )
                ),
                name="lineage_edge_kind_matches_upstream",
            ),
            models.UniqueConstraint(
                fields=["kind", "upstream_dataset", "downstream_model"],
                condition=Q(upstream_dataset__isnull=False),
                name="lineage_unique_dataset_edge",
            ),
            models.UniqueConstraint(
                fields=["upstream_model", "downstream_model"],
                condition=Q(upstream_model__isnull=False),
                name="lineage_unique_model_edge",
            ),
        ]
        indexes = [
            models.Index(fields=["downstream_model"], name="lineage_down_idx"),
            models.Index(fields=["upstream_model"], name="lineage_up_model_idx"),
            models.Index(fields=["upstream_dataset"], name="lineage_up_data_idx"),
        ]
