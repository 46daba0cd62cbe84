"""Shapes of the jobs API: JobCreateInput validates a request, JobOutput renders a job."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from common.api import InputSerializer
from explainability.choices import JobKind
from explainability.models import Job


class JobCreateInput(InputSerializer):
    kind = serializers.ChoiceField(choices=JobKind.choices)
    dataset = serializers.CharField(max_length=220, help_text="Dataset version, NAME@VERSION.")
    reference_dataset = serializers.CharField(
        max_length=220, required=False,
        help_text="Drift only: the baseline NAME@VERSION (default: the training data).",
    )
    params = serializers.JSONField(required=False, help_text="Kind-specific parameters.")


def _ref(dv) -> str | None:
    return dv.ref if dv is not None else None


def _seconds(start, end) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


class JobOutput(serializers.Serializer):
    """A job as the API shows it; `result` only in the detail view (lists carry `summary`)."""

    def __init__(self, *args, with_result: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_result = with_result

    def _url(self, route: str, **kwargs) -> str:
        path = reverse(f"api:{route}", kwargs=kwargs)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def to_representation(self, job: Job) -> dict:
        version = job.model_version
        retried_by = getattr(job, "retried_by", None) if _has_retry(job) else None
        files = (job.result or {}).get("files") or {}
        out = {
            "id": job.pk,
            "url": self._url("job-detail", pk=job.pk),
            "kind": job.kind,
            "status": job.status,
            "progress": job.progress,
            "model": version.model.name,
            "version": version.version,
            "model_version": version.ref,
            "dataset": _ref(job.dataset),
            "reference_dataset": _ref(job.reference_dataset),
            "params": job.params,
            "artifact_sha256": job.artifact_sha256 or None,
            "data_sha256": job.data_sha256,
            "reference_sha256": job.reference_sha256 or None,
            "attempts": job.attempts,
            "max_attempts": job.max_attempts,
            "worker": job.worker or None,
            "chunks": {"total": job.chunks_total, "done": job.chunks_done},
            "timings": {
                "queued_at": job.queued_at,
                "started_at": job.started_at,
                "finished_at": job.finished_at,
                "queue_seconds": _seconds(job.queued_at, job.started_at),
                "run_seconds": _seconds(job.started_at, job.finished_at),
            },
            # The code and the sentence only: the technical detail (a traceback, server paths)
            # stays in the server log and the admin, never in an API answer.
            "error": (
                {"code": job.error_code, "message": job.error_message}
                if job.error_message
                else None
            ),
            "created_by": job.created_by.username if job.created_by_id else None,
            "retry_of": job.retry_of_id,
            "retried_by": retried_by.pk if retried_by else None,
            "files": {
                key: self._url("job-file", pk=job.pk, name=name) for key, name in files.items()
            },
            "summary": summary(job),
        }
        if self.with_result:
            out["result"] = job.result
        return out


def _has_retry(job: Job) -> bool:
    try:
        job.retried_by  # noqa: B018 - reverse one-to-one raises when absent
    except Job.DoesNotExist:
        return False
    return True


def summary(job: Job) -> dict | None:
    """The headline of a result: pass/fail, verdict or top features."""
    result = job.result
    if not result:
        return None
    if job.kind == JobKind.FAIRNESS:
        return {"passed": result.get("passed"), "metrics": result.get("metrics"),
                "small_groups": len(result.get("small_groups") or [])}
    if job.kind == JobKind.DRIFT:
        return {"verdict": result.get("verdict"), "summary": result.get("summary")}
    return {
        "explainer": result.get("explainer"),
        "rows_explained": result.get("rows_explained"),
        "top_features": [f["feature"] for f in (result.get("feature_importance") or [])[:5]],
    }
