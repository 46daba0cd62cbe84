"""Every write to explainability jobs: requests from people (start, cancel, retry) and the
worker's transitions (claim, heartbeat, progress, succeed, fail, requeue).

Each state change locks the job row and moves it with `common.workflow.transition` (checked
against `choices.TRANSITIONS`), writing the row and its one audit event in the same transaction. Worker-side transitions are conditional on
the attempt that claimed the job, so a superseded or cancelled attempt can never finish it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from common import workflow
from common.errors import Conflict, Forbidden, ValidationFailed
from explainability import decisions, outputs, permissions, policy
from explainability import params as job_params
from explainability.choices import TRANSITIONS, JobKind, JobStatus
from explainability.models import Job
from governance import audit
from governance.events import evidence_changed
from registry.choices import EdgeKind, VersionKind
from registry.models import DatasetVersion, LineageEdge, ModelVersion

log = logging.getLogger(__name__)

#: Progress while a job is planned (0-5), computed (5-95) and merged (95-100).
PROGRESS_PLANNED = 5
PROGRESS_MERGING = 95


class IllegalTransition(workflow.IllegalTransition):
    """A job cannot move from its status to the one asked for."""


def _require(refusal: str | None) -> None:
    if refusal:
        raise Forbidden(refusal)


def _enqueue(job_id: int) -> None:
    from explainability import tasks

    tasks.run_job.delay(job_id)


def training_dataset(version: ModelVersion) -> DatasetVersion | None:
    """The first dataset version the model version was trained on (its lineage edge)."""
    edge = (
        LineageEdge.objects.filter(downstream_model=version, kind=EdgeKind.TRAINED_ON)
        .select_related("upstream_dataset__dataset", "upstream_dataset__file")
        .order_by("id")
        .first()
    )
    return edge.upstream_dataset if edge else None


def _check_inputs(
    *, version: ModelVersion, kind: str, dataset: DatasetVersion,
    reference: DatasetVersion | None, params: dict[str, Any] | None = None,
) -> None:
    if decisions.uses_model(kind, params):
        if version.kind == VersionKind.VENDOR:
            msg = (
                f"{version.ref} is a vendor model without an artifact, so it cannot be scored; "
                'judge its recorded decisions with a fairness job (params.mode "decisions").'
            )
            raise ValidationFailed(msg, errors={"kind": [msg]})
        if version.artifact_id is None:
            msg = (
                f"The artifact of {version.ref} is only an external URI; upload the file to "
                "analyse it here."
            )
            raise ValidationFailed(msg, errors={"kind": [msg]})
    for field, dv in (("dataset", dataset), ("reference_dataset", reference)):
        if dv is not None and dv.file_id is None:
            msg = f"Dataset version {dv.ref} is only an external URI; upload the file to analyse it."
            raise ValidationFailed(msg, errors={field: [msg]})
    if reference is not None and reference.pk == dataset.pk:
        msg = "Drift compares two different dataset versions; the reference is the same as the data."
        raise ValidationFailed(msg, errors={"reference_dataset": [msg]})


def _columns(dataset: DatasetVersion) -> list[str]:
    """The dataset version's column names as registered (its profiled schema); empty when the
    registry does not know them (an external file), which leaves the check to the worker."""
    return [str(c.get("name")) for c in dataset.schema or [] if isinstance(c, dict) and c.get("name")]


def _check_columns(
    *, kind: str, dataset: DatasetVersion, reference: DatasetVersion | None, params: dict[str, Any]
) -> None:
    """The columns a job names must be in its data, checked when the job is requested: a 400
    naming the column and listing the dataset's columns, instead of a job that fails later."""
    wanted: list[tuple[str, list[str]]] = []  # (parameter, columns)
    if kind == JobKind.FAIRNESS:
        for name in ("label_column", "prediction_column", "outcome_column", "score_column"):
            if params.get(name):
                wanted.append((name, [params[name]]))
        attrs = params.get("sensitive_attributes") or list(dataset.dataset.sensitive_attributes)
        if attrs:
            wanted.append(("sensitive_attributes", list(attrs)))
    elif kind == JobKind.DRIFT:
        for name in ("features", "categorical"):
            if params.get(name):
                wanted.append((name, list(params[name])))
    datasets = [dataset] + ([reference] if kind == JobKind.DRIFT and reference else [])
    errors: dict[str, list[str]] = {}
    for dv in datasets:
        columns = _columns(dv)
        if not columns:
            continue
        for name, needed in wanted:
            missing = [c for c in needed if c not in columns]
            if missing:
                listed = ", ".join(columns)
                what = "has no column" if len(missing) == 1 else "has no columns"
                role = name.replace("_", " ")
                if name == "sensitive_attributes" and not params.get(name):
                    role = "its declared sensitive attributes"
                elif len(missing) == 1 and role.endswith("s"):
                    role = role[:-1]
                errors.setdefault(f"params.{name}", []).append(
                    f"Dataset {dv.ref} {what} {', '.join(repr(m) for m in missing)} ({role}); "
                    f"its columns are: {listed}."
                )
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(first, errors=errors, code="unknown_column")


def _create(
    *, actor, version: ModelVersion, kind: str, dataset: DatasetVersion,
    reference: DatasetVersion | None, params: dict[str, Any], retry_of: Job | None = None,
) -> Job:
    return Job.objects.create(
        model_version=version, dataset=dataset, reference_dataset=reference, kind=kind,
        params=params, status=JobStatus.QUEUED, max_attempts=settings.JOB_MAX_ATTEMPTS,
        artifact_sha256=version.artifact_sha256 if decisions.uses_model(kind, params) else "",
        data_sha256=dataset.sha256, reference_sha256=reference.sha256 if reference else "",
        created_by=actor, retry_of=retry_of,
    )


def _describe(job: Job) -> dict[str, Any]:
    return {
        "kind": job.kind, "model_version": job.model_version.ref, "dataset": job.dataset.ref,
        "reference_dataset": job.reference_dataset.ref if job.reference_dataset_id else None,
        "params": job.params, "artifact_sha256": job.artifact_sha256,
        "data_sha256": job.data_sha256,
    }


@transaction.atomic(durable=True)
def job_start(
    *,
    actor,
    version: ModelVersion,
    kind: str,
    dataset: DatasetVersion,
    reference_dataset: DatasetVersion | None = None,
    params: dict[str, Any] | None = None,
    enqueue: bool = True,
) -> Job:
    """Queue a SHAP, fairness or drift job on `version`; a worker runs it after commit (unless
    `enqueue` is False: the caller then runs it in-process, as the demo loader does).

    Only the owning team, validators and admins may. Drift compares `dataset` with
    `reference_dataset`, by default the version's training data (its `trained_on` lineage).
    Parameters may tighten the tier policy's fairness thresholds but never loosen them.
    """
    _require(permissions.explain_cannot_start_job(actor, version.model))
    if kind not in JobKind.values:
        msg = f"kind must be one of {', '.join(JobKind.values)}."
        raise ValidationFailed(msg, errors={"kind": [msg]})
    clean = job_params.normalise(kind, params)
    if kind == JobKind.DRIFT:
        reference_dataset = reference_dataset or training_dataset(version)
        if reference_dataset is None:
            msg = (
                f"{version.ref} has no training dataset in its lineage; name the reference "
                "dataset version to compare with (reference_dataset)."
            )
            raise ValidationFailed(msg, errors={"reference_dataset": [msg]})
    else:
        reference_dataset = None
    if kind == JobKind.FAIRNESS:
        policy.check_fairness_override(version.model, clean.get("thresholds"))
        if not clean.get("sensitive_attributes") and not dataset.dataset.sensitive_attributes:
            msg = (
                f"Dataset {dataset.dataset.name} declares no sensitive attributes; list them in "
                "params.sensitive_attributes."
            )
            raise ValidationFailed(msg, errors={"params.sensitive_attributes": [msg]})
        if not clean.get("label_column") and not decisions.is_decisions(clean):
            msg = "A fairness job needs params.label_column: the column holding the true outcome."
            raise ValidationFailed(msg, errors={"params.label_column": [msg]})
    _check_inputs(
        version=version, kind=kind, dataset=dataset, reference=reference_dataset, params=clean
    )
    _check_columns(kind=kind, dataset=dataset, reference=reference_dataset, params=clean)
    job = _create(
        actor=actor, version=version, kind=kind, dataset=dataset, reference=reference_dataset,
        params=clean,
    )
    audit.record(
        action="explainability.job.queued", actor=actor, target=job,
        model_name=version.model.name, payload={"after": _describe(job)},
    )
    if enqueue:
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _locked_for_worker(job_id: int) -> Job:
    return (
        Job.objects.select_for_update(of=("self",))
        .select_related("model_version__model", "created_by").get(pk=job_id)
    )


def _locked(job_id: int) -> Job:
    return (
        Job.objects.select_for_update(of=("self",))
        .select_related("model_version__model", "dataset__dataset", "reference_dataset__dataset")
        .get(pk=job_id)
    )


def _move(
    job: Job, to: str, *, action: str, actor, payload: dict[str, Any],
    changes: dict[str, Any] | None = None, before: dict[str, Any] | None = None,
) -> None:
    """Every status write of a job: the common transition (the caller holds the row lock),
    recording `action` with `payload` and, unless given, {"before": {"status": ...}}."""

    def record(status: str) -> None:
        body = {"before": before or {"status": status}, **payload}
        audit.record(action=action, actor=actor, target=job,
                     model_name=job.model_version.model.name, payload=body)

    workflow.transition(
        job, to, table=TRANSITIONS, record=record, changes=changes, locked=True,
        name=f"Job {job.pk}", error=IllegalTransition,
    )


@transaction.atomic(durable=True)
def job_cancel(*, actor, job: Job) -> Job:
    """Cancel a queued or running job. A running attempt notices at its next step and its
    result is discarded; a finished job cannot be cancelled."""
    job = _locked(job.pk)
    _require(permissions.explain_cannot_manage_job(actor, job))
    if job.is_finished:
        raise IllegalTransition(
            f"Job {job.pk} already {job.status}; only queued or running jobs can be cancelled.",
            code="illegal_transition",
        )
    _move(job, JobStatus.CANCELLED, action="explainability.job.cancelled", actor=actor,
          changes={"finished_at": timezone.now()},
          payload={"after": {"status": JobStatus.CANCELLED}})
    transaction.on_commit(lambda: _discard_outputs(job.pk, keep=None))
    return job


@transaction.atomic(durable=True)
def job_retry(*, actor, job: Job) -> Job:
    """Queue a new job with the same inputs as a failed or cancelled one, linked by `retry_of`;
    the old job keeps its error. A job is retried at most once (its retry can be retried)."""
    job = _locked(job.pk)
    _require(permissions.explain_cannot_manage_job(actor, job))
    _require(permissions.explain_cannot_start_job(actor, job.model_version.model))
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise IllegalTransition(
            f"Job {job.pk} is {job.status}; only failed or cancelled jobs can be retried.",
            code="illegal_transition",
        )
    existing = Job.objects.filter(retry_of=job).values_list("pk", flat=True).first()
    if existing:
        raise Conflict(
            f"Job {job.pk} was already retried as job {existing}; retry that one instead.",
            code="already_retried",
        )
    version = job.model_version
    _check_inputs(
        version=version, kind=job.kind, dataset=job.dataset, reference=job.reference_dataset,
        params=job.params,
    )
    new = _create(
        actor=actor, version=version, kind=job.kind, dataset=job.dataset,
        reference=job.reference_dataset, params=job.params, retry_of=job,
    )
    audit.record(
        action="explainability.job.retried", actor=actor, target=new,
        model_name=version.model.name,
        payload={"retry_of": job.pk, "previous_error": job.error_message,
                 "after": _describe(new)},
    )
    transaction.on_commit(lambda: _enqueue(new.pk))
    return new


# --- worker-side transitions --------------------------------------------------------------


def _stale_before() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_AFTER)


def _claimable() -> Q:
    """Queued, or running with a heartbeat old enough that its worker must be gone."""
    return Q(status=JobStatus.QUEUED) | Q(
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=_stale_before()),
        status=JobStatus.RUNNING,
    )


def _actor(job: Job):
    return job.created_by


@transaction.atomic(durable=True)
def job_claim(*, job_id: int, worker: str, task_id: str = "") -> Job | None:
    """Claim a job for one attempt, or return None when there is nothing to run.

    A conditional UPDATE (queued, or running with a stale heartbeat, and attempts left) makes the
    claim: a redelivered message for a finished or live job changes nothing. A job out of
    attempts fails with the reason instead of running again (no redelivery loop).
    """
    job = (
        Job.objects.select_for_update(of=("self",)).select_related("model_version__model", "created_by")
        .filter(pk=job_id).first()
    )
    if job is None:
        return None
    if not Job.objects.filter(_claimable(), pk=job_id).exists():
        return None
    now = timezone.now()
    before = {"status": job.status, "worker": job.worker, "attempts": job.attempts}
    if job.attempts >= job.max_attempts:
        message = (
            f"The job gave up after {job.attempts} attempts (worker lost?): each attempt stopped "
            "without finishing, so it will not be run again. Retry it once the cause is fixed."
        )
        _move(
            job, JobStatus.FAILED, action="explainability.job.failed", actor=_actor(job),
            before=before, payload={"after": {"status": JobStatus.FAILED}, "error": message},
            changes={
                "finished_at": now, "error_code": "gave_up", "error_message": message,
                "error_detail": f"last worker: {job.worker or '-'}; "
                                f"max_attempts={job.max_attempts}",
            },
        )
        transaction.on_commit(lambda: _discard_outputs(job_id, keep=None))
        return None
    _move(
        job, JobStatus.RUNNING, action="explainability.job.started", actor=_actor(job),
        before=before,
        payload={"after": {"status": JobStatus.RUNNING, "worker": worker[:255],
                           "attempt": job.attempts + 1}},
        changes={
            "attempts": job.attempts + 1, "worker": worker[:255], "task_id": task_id[:255],
            "started_at": now, "heartbeat_at": now, "progress": 0, "chunks_total": 0,
            "chunks_done": 0,
        },
    )
    # The worker reads everything it needs in one query.
    return Job.objects.select_related(
        "model_version__model", "dataset__dataset", "dataset__file",
        "reference_dataset__dataset", "reference_dataset__file", "model_version__artifact",
    ).get(pk=job_id)


def _mine(job_id: int, attempt: int):
    return Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt)


def _alive_until(moment: dt.datetime):
    """Move the heartbeat to `moment` unless a lease already reaches further (never back)."""
    return Greatest(Coalesce(F("heartbeat_at"), Value(moment)), Value(moment))


def job_heartbeat(*, job_id: int, attempt: int) -> bool:
    """Stamp the attempt as alive; False when the job is no longer this attempt's to run."""
    return bool(_mine(job_id, attempt).update(heartbeat_at=_alive_until(timezone.now())))


def job_is_current(*, job_id: int, attempt: int) -> bool:
    return _mine(job_id, attempt).exists()


def job_set_progress(*, job_id: int, attempt: int, progress: int, chunks_total: int = 0) -> bool:
    """Set progress (and stamp the heartbeat); with `chunks_total` the chunks are being
    dispatched. From then on the running chunks stamp the heartbeat; a chord silent for
    JOB_STALE_AFTER is taken over by `job_take_over_chunks` (no lease reaching into the future,
    so a chunk lost with its worker is found within a minute, not after the time limit)."""
    fields: dict[str, Any] = {"progress": max(0, min(99, int(progress))),
                              "heartbeat_at": _alive_until(timezone.now())}
    if chunks_total:
        fields.update(chunks_total=chunks_total, chunks_done=0)
    return bool(_mine(job_id, attempt).update(**fields))


def job_chunk_done(*, job_id: int, attempt: int) -> bool:
    """Count one finished chunk; progress moves from 5 to 95 as chunks finish (atomic in SQL,
    so chunks finishing at once on many workers never lose an increment)."""
    span = PROGRESS_MERGING - PROGRESS_PLANNED
    return bool(
        _mine(job_id, attempt)
        .filter(chunks_total__gt=0)
        .update(
            chunks_done=F("chunks_done") + 1,
            progress=Least(
                PROGRESS_MERGING,
                PROGRESS_PLANNED + (F("chunks_done") + 1) * span / F("chunks_total"),
            ),
            heartbeat_at=_alive_until(timezone.now()),
        )
    )


def _summary(job: Job, result: dict[str, Any]) -> dict[str, Any]:
    if job.kind == JobKind.FAIRNESS:
        return {"passed": result.get("passed")}
    if job.kind == JobKind.DRIFT:
        return {"verdict": result.get("verdict")}
    top = [f.get("feature") for f in (result.get("feature_importance") or [])[:3]]
    return {"explainer": result.get("explainer"), "top_features": top}


@transaction.atomic(durable=True)
def job_succeed(*, job_id: int, attempt: int, result: dict[str, Any], files_dir: str = "") -> bool:
    """Store the result of the attempt that holds the job; False (result discarded) when the job
    was cancelled or another attempt took it over."""
    job = _locked_for_worker(job_id)
    if job.status != JobStatus.RUNNING or job.attempts != attempt:
        return False
    now = timezone.now()
    _move(
        job, JobStatus.SUCCEEDED, action="explainability.job.succeeded", actor=_actor(job),
        payload={"after": {"status": JobStatus.SUCCEEDED, "attempt": attempt,
                           "artifact_sha256": job.artifact_sha256,
                           "data_sha256": job.data_sha256, **_summary(job, result)}},
        changes={"result": result, "progress": 100, "finished_at": now, "heartbeat_at": now,
                 "files_dir": files_dir, "error_code": "", "error_message": "",
                 "error_detail": ""},
    )
    # A new result is new evidence: the model's live promotions re-judge it after commit.
    evidence_changed(job.model_version.model.name)
    keep = files_dir.rsplit("/", 1)[-1] if files_dir else None
    transaction.on_commit(lambda: _discard_outputs(job_id, keep=keep))
    return True


@transaction.atomic(durable=True)
def job_fail(
    *, job_id: int, attempt: int, code: str, message: str, detail: str = ""
) -> bool:
    """Fail the attempt's job with a sentence for the user (and the technical detail); nothing
    it wrote is kept."""
    job = _locked_for_worker(job_id)
    if job.status != JobStatus.RUNNING or job.attempts != attempt:
        return False
    # The detail (a traceback, server paths) is for the platform team: the server log and the
    # admin have it; API clients and the portal get the code and the sentence only.
    log.warning("job %s attempt %s failed (%s): %s\n%s", job_id, attempt, code, message, detail)
    _move(
        job, JobStatus.FAILED, action="explainability.job.failed", actor=_actor(job),
        payload={"after": {"status": JobStatus.FAILED}, "attempt": attempt, "code": code,
                 "error": message},
        changes={"finished_at": timezone.now(), "error_code": code[:50],
                 "error_message": message or "The job failed.", "error_detail": detail[:20000]},
    )
    transaction.on_commit(lambda: _discard_outputs(job_id, keep=None))
    return True


@transaction.atomic(durable=True)
def job_requeue(*, job_id: int, attempt: int, reason: str) -> bool:
    """Put the attempt's job back in the queue after a transient error (the caller schedules the
    retry with backoff). Out of attempts, the job fails with the reason instead."""
    job = _locked_for_worker(job_id)
    if job.status != JobStatus.RUNNING or job.attempts != attempt:
        return False
    if job.attempts >= job.max_attempts:
        message = (
            f"The job gave up after {job.attempts} attempts; the last one failed with a "
            f"temporary error: {reason}"
        )
        to, action = JobStatus.FAILED, "explainability.job.failed"
        changes = {"finished_at": timezone.now(), "error_code": "gave_up",
                   "error_message": message, "error_detail": reason[:20000]}
    else:
        to, action = JobStatus.QUEUED, "explainability.job.requeued"
        changes = {"heartbeat_at": None, "worker": ""}
    _move(job, to, action=action, actor=_actor(job), changes=changes,
          payload={"after": {"status": to}, "attempt": attempt, "reason": reason})
    transaction.on_commit(lambda: _discard_outputs(job_id, keep=None))
    return action == "explainability.job.requeued"


def job_release_orphans(*, worker: str) -> list[int]:
    """At a worker's start: its previous life's running jobs are orphans. Mark them stale so the
    next claim may take them (no status change, so no audit event) and return their ids."""
    ids = list(
        Job.objects.filter(status=JobStatus.RUNNING, worker=worker).values_list("pk", flat=True)
    )
    if ids:
        Job.objects.filter(pk__in=ids, status=JobStatus.RUNNING, worker=worker).update(
            heartbeat_at=None
        )
    return ids


def job_take_over_chunks(*, job_id: int, attempt: int) -> bool:
    """Take over a silent chord: the attempt dispatched its chunks, and none of them has shown a
    sign of life for JOB_STALE_AFTER (a chunk was lost with its worker, or the merge was).
    One conditional UPDATE renews the heartbeat, so of all the workers sent the same recovery
    message exactly one re-sends the missing chunks; the attempt (and its finished chunks) is
    kept, and no status changes, so no audit event. False when the chord is not silent (any
    more), or the job is no longer this attempt's."""
    now = timezone.now()
    return bool(
        _mine(job_id, attempt)
        .filter(chunks_total__gt=0)
        .filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=_stale_before()))
        .update(heartbeat_at=now)
    )


def jobs_to_recover() -> list[int]:
    """Running jobs whose worker stopped heart-beating, and queued jobs waiting suspiciously long
    (their message may have been lost); re-sending them is safe because the claim is conditional.
    Each job is re-sent at most once per JOB_STALE_AFTER (stamped in `recovery_sent_at`), so a
    sweep over a long backlog never floods the queue."""
    now = timezone.now()
    lost_queue = now - dt.timedelta(seconds=settings.JOB_REQUEUE_QUEUED_AFTER)
    ids = list(
        Job.objects.filter(
            Q(status=JobStatus.RUNNING)
            & (Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=_stale_before()))
            | Q(status=JobStatus.QUEUED, queued_at__lt=lost_queue)
        )
        .filter(Q(recovery_sent_at__isnull=True) | Q(recovery_sent_at__lt=_stale_before()))
        .values_list("pk", flat=True)[:500]
    )
    if ids:
        Job.objects.filter(pk__in=ids, status__in=[JobStatus.RUNNING, JobStatus.QUEUED]).update(
            recovery_sent_at=now
        )
    return ids


def _discard_outputs(job_id: int, *, keep: str | None) -> None:
    """Remove every attempt folder of the job except `keep` (the succeeded one)."""
    outputs.discard_attempts(job_id, keep=keep)


@transaction.atomic(durable=True)
def job_start_scheduled(
    *, version: ModelVersion, dataset: DatasetVersion, reference_dataset: DatasetVersion
) -> Job | None:
    """The scheduler's drift check (actor: system). Skipped when the same comparison is already
    queued, running or done, so a schedule never piles up duplicates."""
    duplicate = Job.objects.filter(
        model_version=version, kind=JobKind.DRIFT, dataset=dataset,
        reference_dataset=reference_dataset,
        status__in=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED],
    ).exists()
    if duplicate:
        return None
    _check_inputs(version=version, kind=JobKind.DRIFT, dataset=dataset, reference=reference_dataset)
    job = _create(
        actor=None, version=version, kind=JobKind.DRIFT, dataset=dataset,
        reference=reference_dataset, params=job_params.normalise(JobKind.DRIFT, {}),
    )
    audit.record(
        action="explainability.job.queued", actor=None, target=job,
        model_name=version.model.name, payload={"after": _describe(job), "scheduled": True},
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job
