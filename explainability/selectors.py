"""Reads of explainability jobs, with visibility and a bounded number of queries.

Approvals reads evidence through `latest_job` (the newest job of a kind on a version with a
status); the portal through `jobs_for_version` and `job_get_for_user`.
"""

from __future__ import annotations

from typing import IO

from django.db.models import QuerySet

from common.errors import NotFound
from explainability import outputs, permissions
from explainability.choices import JobKind, JobStatus
from explainability.models import Job
from governance import permissions as perms

_RELATED = (
    "model_version__model__team", "dataset__dataset", "reference_dataset__dataset", "created_by",
    "retry_of",
)


def _jobs() -> QuerySet[Job]:
    return Job.objects.select_related(*_RELATED).prefetch_related("retried_by")


def jobs_for_version(version) -> QuerySet[Job]:
    """Every job on one model version, newest first."""
    return _jobs().filter(model_version=version).order_by("-queued_at", "-id")


def latest_job(version, kind: str, *, status: str | None = JobStatus.SUCCEEDED) -> Job | None:
    """The newest job of `kind` on `version` with `status` (any status when None)."""
    qs = jobs_for_version(version).filter(kind=kind)
    if status is not None:
        qs = qs.filter(status=status)
    return qs.first()


def succeeded_jobs_for_versions(version_ids: list[int]) -> list[Job]:
    """Every succeeded job on any of the versions, newest first, in one query (the compliance
    evaluator picks the latest of each kind per version)."""
    return list(
        Job.objects.filter(model_version_id__in=version_ids, status=JobStatus.SUCCEEDED)
        .select_related("dataset__dataset").order_by("-finished_at", "-id")
    )


def job_list_for_user(user) -> QuerySet[Job]:
    """Jobs on models the user may see."""
    qs = _jobs()
    if not perms.can_read_everything(user):
        qs = qs.filter(model_version__model__team_id__in=user.team_ids)
    return qs.order_by("-queued_at", "-id")


def job_get_for_user(user, job_id: int | str) -> Job:
    """The job, if the user may see its model; otherwise NotFound (404, not 403)."""
    try:
        pk = int(job_id)
    except (TypeError, ValueError):
        raise NotFound(f"Job {job_id!r} is not a number.") from None
    job = _jobs().filter(pk=pk).first()
    if job is None or not permissions.can_view_job(user, job):
        raise NotFound(f"No job {pk} that you can see.")
    return job


def job_for_worker(job_id: int) -> Job:
    """A job with everything a worker reads (model, files, datasets) in one query."""
    return Job.objects.select_related(
        "model_version__model", "model_version__artifact", "dataset__dataset", "dataset__file",
        "reference_dataset__dataset", "reference_dataset__file", "created_by",
    ).get(pk=job_id)


def latest_fairness_job(version, *, decisions: bool) -> Job | None:
    """The newest succeeded fairness job on `version` of one mode: on recorded decisions
    (`params.mode == "decisions"`), or model-based (every other fairness job)."""
    from django.db.models import Q

    mode = Q(params__mode="decisions")
    qs = jobs_for_version(version).filter(kind=JobKind.FAIRNESS, status=JobStatus.SUCCEEDED)
    return qs.filter(mode if decisions else Q(params__mode__isnull=True) | ~mode).first()


def job_running_chunked(job_id: int) -> Job | None:
    """The job if it is running with its chunks dispatched (a chord a worker may take over)."""
    return Job.objects.filter(
        pk=job_id, status=JobStatus.RUNNING, chunks_total__gt=0
    ).first()


def job_file_open(job: Job, name: str) -> IO[bytes] | None:
    """A file the job's result lists, opened from wherever job outputs are kept (the local folder
    or the bucket); None for a name the result does not list or a file that is gone."""
    if job.file_path(name) is None:
        return None
    return outputs.open_result_file(job.files_dir, name)


def job_chunk_runs(job: Job) -> dict | None:
    """How a chunked job's chunks ran, from its result's `chunk_runs`: per chunk the worker,
    start (UTC), wall and CPU seconds and what it loaded; the workers that took part with their
    chunks; and for how many seconds two or more chunks ran at the same time. None for a job
    that was not chunked (or finished before chunks were recorded)."""
    import datetime as dt

    runs = list((job.result or {}).get("chunk_runs") or [])
    if not runs:
        return None
    edges, rows, workers = [], [], {}
    for run in runs:
        start = dt.datetime.fromisoformat(run["started_at"])
        end = dt.datetime.fromisoformat(run["finished_at"])
        edges += [(start, 1), (end, -1)]
        workers.setdefault(run["worker"], []).append(run["index"])
        rows.append({**run, "started": start})
    side_by_side, running, last = 0.0, 0, None
    for moment, step in sorted(edges):
        if running >= 2:
            side_by_side += (moment - last).total_seconds()
        running, last = running + step, moment
    return {"runs": rows, "workers": workers, "side_by_side_seconds": round(side_by_side, 2)}
