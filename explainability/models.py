"""Explainability evidence: one Job row per SHAP, fairness or drift analysis of a model version."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from explainability.choices import FINISHED, JobKind, JobStatus


class Job(models.Model):
    """One analysis of one model version on one dataset version; the source of truth for its state.

    Rules: the web process only creates the row (status ``queued``); a worker claims it with a
    conditional UPDATE (so a redelivered message never runs a finished job twice), and only one
    attempt can finish it. ``artifact_sha256`` and ``data_sha256`` name exactly what it ran on
    (the worker re-hashes both files before using them). A finished job (succeeded, failed or
    cancelled) never changes again: ``save()`` refuses it and a database trigger refuses any
    UPDATE of a finished row, so a result is immutable once written. A retry is a new job that
    points at the one it retries (``retry_of``), which keeps its error.
    """

    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="jobs"
    )
    dataset = models.ForeignKey(
        "registry.DatasetVersion", on_delete=models.PROTECT, related_name="jobs",
        help_text="The data analysed (for drift: the current data).",
    )
    reference_dataset = models.ForeignKey(
        "registry.DatasetVersion", on_delete=models.PROTECT, related_name="reference_jobs",
        null=True, blank=True, help_text="Drift only: the baseline (default: the training data).",
    )
    kind = models.CharField(max_length=20, choices=JobKind.choices)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    worker = models.CharField(max_length=255, blank=True)
    task_id = models.CharField(max_length=255, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Last sign of life of the attempt (a chord's lease may reach into the future).",
    )
    recovery_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When recovery last re-sent the job's message."
    )
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True, help_text="A sentence for the user.")
    error_detail = models.TextField(blank=True, help_text="Technical detail (exception, trace).")
    result = models.JSONField(null=True, blank=True)
    files_dir = models.CharField(
        max_length=200, blank=True, help_text="Output folder, relative to JOB_OUTPUT_ROOT."
    )
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    data_sha256 = models.CharField(max_length=64, blank=True)
    reference_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True,
        blank=True, help_text="Empty for scheduled (system) jobs.",
    )
    retry_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="retried_by"
    )

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values), name="job_status_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=JobKind.values), name="job_kind_valid"),
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=100), name="job_progress_0_100"
            ),
            models.CheckConstraint(
                condition=Q(attempts__lte=models.F("max_attempts")), name="job_attempts_bounded"
            ),
            models.CheckConstraint(
                condition=~Q(status=JobStatus.SUCCEEDED)
                | Q(result__isnull=False, finished_at__isnull=False, progress=100),
                name="job_succeeded_has_result",
            ),
            models.CheckConstraint(
                condition=Q(result__isnull=True) | Q(status=JobStatus.SUCCEEDED),
                name="job_result_only_when_succeeded",
            ),
            models.CheckConstraint(
                condition=~Q(status=JobStatus.FAILED) | ~Q(error_message=""),
                name="job_failed_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind=JobKind.DRIFT) | Q(reference_dataset__isnull=False),
                name="job_drift_has_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["model_version", "kind", "status"], name="job_version_kind_idx"),
            models.Index(fields=["status", "heartbeat_at"], name="job_status_heartbeat_idx"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.kind})"

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_status = getattr(instance, "status", None)
        return instance

    def save(self, *args, **kwargs):
        if not self._state.adding and getattr(self, "_loaded_status", None) in FINISHED:
            raise RuntimeError(f"Job {self.pk} is finished; its record and result never change.")
        super().save(*args, **kwargs)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def output_root(self) -> Path:
        """The job's own folder under JOB_OUTPUT_ROOT (attempt folders live inside it)."""
        return Path(settings.JOB_OUTPUT_ROOT) / str(self.pk)

    def file_path(self, name: str) -> Path | None:
        """Absolute path of a result file the job lists, or None (only listed names are served)."""
        files = (self.result or {}).get("files") or {}
        if not self.files_dir or name not in set(files.values()):
            return None
        return Path(settings.JOB_OUTPUT_ROOT) / self.files_dir / name


class DriftReferenceProfile(models.Model):
    """The drift runner's profile of one dataset file as a reference: its numeric columns sorted,
    with their quantile edges and summaries (``runners.drift_profile``), stored once in the
    artifact storage so no drift job on any worker sorts that reference again.

    Rules: keyed by the sha256 of the file it was computed from (verified when it was read) and
    the columns it covers (``whole_file``: every column, so it also serves a job that names no
    features). ``sha256`` is the profile file's own, checked on every read; a file that is
    missing, altered or unreadable is rebuilt from the reference and replaced (an audited
    change), and never decides a result: a drift result is the same with or without it.
    """

    data_sha256 = models.CharField(
        max_length=64, help_text="sha256 of the dataset file the profile was computed from."
    )
    columns_key = models.CharField(
        max_length=64, help_text="sha256 of the covered columns (and whole_file)."
    )
    columns = models.JSONField(help_text="The columns covered, in the file's order.")
    numeric = models.JSONField(help_text="Those of them with numeric values (sorted, stored).")
    whole_file = models.BooleanField(default=False)
    dataset_version = models.ForeignKey(
        "registry.DatasetVersion", on_delete=models.PROTECT, related_name="+",
        help_text="The dataset version it was first built for.",
    )
    storage_key = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, help_text="sha256 of the stored profile file.")
    size_bytes = models.BigIntegerField()
    build_seconds = models.FloatField(
        help_text="Wall time of reading the reference, sorting it and writing the profile."
    )
    built_by_job = models.ForeignKey(
        Job, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The drift job that built it (empty when prepared ahead of time).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["data_sha256", "columns_key"], name="driftprofile_once_per_file_columns"
            ),
        ]

    def __str__(self) -> str:
        return f"drift profile {self.data_sha256[:12]} ({len(self.columns)} columns)"
