"""Celery tasks for explainability jobs: thin, they take ids and call runtime/services.

Reliability: every task is acks_late (a message is acknowledged only after the work) and rejected
back to the queue if its worker dies; the worker prefetches one message at a time (settings).
The Job row decides what runs: `job_claim` is conditional, so a redelivered or duplicated message
for a finished or live job does nothing, and a job out of attempts fails instead of looping.
Workers that die without a trace (SIGKILL) are covered by heartbeats: a new worker with the same
name releases its predecessor's jobs at start, and `recover_lost_jobs` (beat, every quarter of
JOB_STALE_AFTER) re-sends jobs whose heartbeat went silent, whatever worker ran them: any worker
then claims a silent job afresh, or re-sends the missing chunks of a silent chord (same attempt).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import chord, shared_task
from celery.signals import worker_ready
from django.conf import settings

from explainability import selectors, services
from explainability.models import Job

log = logging.getLogger(__name__)

RELIABLE = {"acks_late": True, "reject_on_worker_lost": True}


def _backoff(attempt: int) -> float:
    return settings.JOB_RETRY_BACKOFF_SECONDS * (2 ** max(attempt - 1, 0))


def _requeue(job_id: int, attempt: int) -> None:
    run_job.apply_async((job_id,), countdown=_backoff(attempt))


def _dispatch(
    job: Job, attempt: int, specs: list[dict[str, Any]],
    pending: list[dict[str, Any]] | None = None,
) -> None:
    """Run the chunks `pending` (all of `specs` unless told) as a chord whose body merges all of
    `specs`; with nothing pending (a merge lost with its worker) only the merge is sent."""
    pending = specs if pending is None else pending
    if not pending:
        merge_chunks.delay(job.pk, attempt, specs)
        return
    header = [run_chunk.s(job.pk, attempt, spec) for spec in pending]
    # The chord_unlock fallback (non-Redis result backends) polls once a second; bound it by the
    # hard time limit so a chunk lost with its worker cannot make it poll forever.
    chord(header)(
        merge_chunks.si(job.pk, attempt, specs),
        max_retries=int(settings.CELERY_TASK_TIME_LIMIT),
    )


@shared_task(bind=True, name="explainability.tasks.run_job", **RELIABLE)
def run_job(self, job_id: int) -> str:
    from explainability import runtime  # pandas, SHAP: loaded by workers, not by the web

    # A chunked attempt gone silent keeps its finished chunks: its missing ones are re-sent.
    chord_job = selectors.job_running_chunked(job_id)
    if chord_job is not None and runtime.resume_chunks(chord_job, dispatch=_dispatch):
        return f"attempt {chord_job.attempts} resumed"
    job = services.job_claim(
        job_id=job_id, worker=self.request.hostname or "worker", task_id=self.request.id or ""
    )
    if job is None:
        return "not claimable"
    runtime.run_attempt(job, dispatch=_dispatch, requeue=_requeue)
    return f"attempt {job.attempts}"


@shared_task(bind=True, name="explainability.tasks.run_chunk", **RELIABLE)
def run_chunk(self, job_id: int, attempt: int, spec: dict[str, Any]) -> None:
    from explainability.runners.timing import Span

    span = Span()  # the chunk's record counts a fresh worker's first imports too
    from explainability import runtime  # pandas, SHAP: loaded by workers, not by the web

    runtime.run_chunk(job_id, attempt, spec, requeue=_requeue,
                      worker=self.request.hostname or "worker", span=span)


@shared_task(bind=True, name="explainability.tasks.merge_chunks", **RELIABLE)
def merge_chunks(self, job_id: int, attempt: int, specs: list[dict[str, Any]]) -> None:
    from explainability import runtime  # pandas, SHAP: loaded by workers, not by the web

    runtime.run_merge(job_id, attempt, specs, requeue=_requeue)


@shared_task(name="explainability.tasks.recover_lost_jobs")
def recover_lost_jobs() -> list[int]:
    """Re-send jobs whose worker went silent (the claim decides whether they run again)."""
    ids = services.jobs_to_recover()
    for job_id in ids:
        run_job.delay(job_id)
    return ids


@shared_task(name="explainability.tasks.scheduled_drift_checks")
def scheduled_drift_checks() -> list[int]:
    """Beat: a drift job per production version against its newest non-training data."""
    from explainability import scheduling

    return scheduling.queue_drift_checks()


@shared_task(name="explainability.tasks.prepare_drift_reference", **RELIABLE)
def prepare_drift_reference(version_id: int) -> str:
    """Store the profile of the version's scheduled drift reference (its training data) ahead
    of the first drift check; nothing when it is stored already."""
    from explainability import reference_profiles  # pandas: loaded by workers, not by the web

    return reference_profiles.prepare_for_version(version_id)


def prepare_drift_reference_soon(version_id: int) -> None:
    """Queue `prepare_drift_reference`. A broker that cannot take it is logged, not raised: the
    change that asked has committed, and the first drift job builds the profile anyway."""
    try:
        prepare_drift_reference.delay(version_id)
    except Exception:  # noqa: BLE001 - an optimisation must not fail a committed change
        log.exception("could not queue the drift reference of version %s", version_id)


def prepare_drift_references_later(version_ids: list[int]) -> None:
    """After the caller's transaction commits, prepare the drift reference of each version."""
    from django.db import transaction

    for version_id in version_ids:
        transaction.on_commit(lambda v=version_id: prepare_drift_reference_soon(v))


@worker_ready.connect
def _release_orphans_at_start(sender=None, **kwargs) -> None:
    """A worker starting under a name that still holds running jobs was killed before finishing
    them: release those jobs and re-send them, with any other silent ones."""
    hostname = getattr(sender, "hostname", "") or ""
    try:
        orphans = services.job_release_orphans(worker=hostname) if hostname else []
        for job_id in sorted(set(orphans) | set(services.jobs_to_recover())):
            run_job.delay(job_id)
        if orphans:
            log.warning("worker %s released jobs %s left by its previous run", hostname, orphans)
    except Exception:  # noqa: BLE001 - never keep a worker from starting; beat will recover
        log.exception("could not release orphaned jobs at worker start")
