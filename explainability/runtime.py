"""Running one attempt of a job: heartbeat, folders, and turning every outcome into a transition.

The rules: an attempt writes only under JOB_OUTPUT_ROOT/<job>/attempt-<n>/; while it works a
thread stamps the job's heartbeat (a silent job is presumed lost and may be claimed again); any
exception becomes exactly one transition: input problems fail the job with the runner's sentence,
transient problems requeue it with backoff, a time limit or a bug fails it with a sentence and
the detail. The worker process itself never dies of a job's error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from explainability import compute, inputs, outputs, selectors, services, strategies
from explainability.models import Job
from explainability.runners.errors import JobInputError, TransientJobError, UnsafeArtifactError
from explainability.runners.timing import Span

log = logging.getLogger(__name__)

#: dispatch(job, attempt, specs, pending): run the chunks `pending` (default: all of `specs`),
#: then merge all of `specs`.
Dispatch = Callable[..., None]
SPECS_FILE = "chunk-specs.json"
Requeue = Callable[[int, int], None]


def attempt_dir(job_id: int, attempt: int) -> Path:
    return Path(settings.JOB_OUTPUT_ROOT) / str(job_id) / f"attempt-{attempt}"


def files_dir(job_id: int, attempt: int) -> str:
    return f"{job_id}/attempt-{attempt}"


class Heartbeat:
    """Stamps the attempt's heartbeat every JOB_HEARTBEAT_SECONDS from a daemon thread."""

    def __init__(self, job_id: int, attempt: int) -> None:
        self.job_id, self.attempt = job_id, attempt
        self.current = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{job_id}")

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.JOB_HEARTBEAT_SECONDS):
                try:
                    self.current = services.job_heartbeat(job_id=self.job_id, attempt=self.attempt)
                except DatabaseError:  # a busy database is not a lost worker; try next beat
                    log.warning("heartbeat of job %s failed", self.job_id, exc_info=True)
        finally:
            connection.close()  # the thread's own connection

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _sentence(message: str) -> str:
    message = str(message).strip() or "The job failed."
    return message if message.endswith((".", "!", "?")) else message + "."


@contextlib.contextmanager
def guarded(job: Job, attempt: int, *, requeue: Requeue | None) -> Iterator[None]:
    """Map whatever the body raises to one job transition; never re-raise."""
    try:
        yield
    except UnsafeArtifactError as exc:
        services.job_fail(job_id=job.pk, attempt=attempt, code="unsafe_input",
                          message=_sentence(str(exc)), detail=traceback.format_exc())
    except JobInputError as exc:
        services.job_fail(job_id=job.pk, attempt=attempt, code="bad_input",
                          message=_sentence(str(exc)), detail=traceback.format_exc())
    except SoftTimeLimitExceeded:
        limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
        services.job_fail(
            job_id=job.pk, attempt=attempt, code="time_limit",
            message=(f"The job ran longer than the limit of {limit} seconds and was stopped; "
                     "explain fewer rows (sample_size), use a smaller background, or split the "
                     "data."),
            detail=traceback.format_exc(),
        )
    except MemoryError:
        services.job_fail(
            job_id=job.pk, attempt=attempt, code="out_of_memory",
            message="The job ran out of memory; explain fewer rows or use a smaller dataset.",
            detail=traceback.format_exc(),
        )
    except (TransientJobError, DatabaseError, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("job %s attempt %s: transient error %s", job.pk, attempt, reason)
        close_old_connections()
        if services.job_requeue(job_id=job.pk, attempt=attempt, reason=reason) and requeue:
            requeue(job.pk, attempt)
    except Exception as exc:  # a bug: the job fails with a sentence, the worker lives on
        log.exception("job %s attempt %s failed with an internal error", job.pk, attempt)
        services.job_fail(
            job_id=job.pk, attempt=attempt, code="internal",
            message=("The job stopped because of an internal error in Gatehouse, not because of "
                     f"your input ({type(exc).__name__}); the platform team has the detail."),
            detail=traceback.format_exc(),
        )


def _store(job: Job, attempt: int, out_dir: Path, result: dict[str, Any]) -> bool:
    outputs.remove(out_dir / compute.CHUNK_DIR)
    outputs.remove(out_dir / compute.PLAN_FILE)
    # The result's files are where the web can serve them before the job says it succeeded.
    outputs.publish_tree(out_dir)
    stored = services.job_succeed(
        job_id=job.pk, attempt=attempt, result=result, files_dir=files_dir(job.pk, attempt)
    )
    if not stored:  # cancelled or superseded meanwhile: its files are not evidence
        shutil.rmtree(out_dir, ignore_errors=True)
    else:
        outputs.finished_locally(out_dir)
    return stored


def run_attempt(
    job: Job, *, dispatch: Dispatch | None = None, requeue: Requeue | None = None
) -> None:
    """Run a claimed job: inline when small (or when no dispatcher is given), else plan the
    chunks and hand them to `dispatch` (a Celery chord) which calls `run_chunk` / `run_merge`."""
    attempt = job.attempts
    out_dir = attempt_dir(job.pk, attempt)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    with Heartbeat(job.pk, attempt), guarded(job, attempt, requeue=requeue):
        services.job_set_progress(job_id=job.pk, attempt=attempt, progress=1)
        outcome = strategies.for_job(job).start(job, out_dir, allow_chunks=dispatch is not None)
        if isinstance(outcome, dict):
            _store(job, attempt, out_dir, outcome)
            return
        # The specs are kept with the chunks, so whoever takes over a silent chord knows them.
        compute.write_json_once(out_dir / SPECS_FILE, outcome)
        services.job_set_progress(
            job_id=job.pk, attempt=attempt, progress=services.PROGRESS_PLANNED,
            chunks_total=len(outcome),
        )
        dispatch(job, attempt, outcome)


def resume_chunks(job: Job, *, dispatch: Dispatch) -> bool:
    """Recover a chunked attempt whose chord went silent (a chunk or the merge was lost with a
    killed worker, whatever its name): re-send only the chunks without an output file, then the
    merge, in the same attempt. False (nothing sent) when the job is not a dispatched chord or
    another worker took it over first.

    Re-sending is safe: a chunk whose file exists is skipped (files are written once), a merge
    runs only for the attempt still holding the job, so the job still succeeds exactly once."""
    attempt = job.attempts
    specs_path = attempt_dir(job.pk, attempt) / SPECS_FILE
    if job.chunks_total == 0 or not specs_path.is_file():
        return False
    if not services.job_take_over_chunks(job_id=job.pk, attempt=attempt):
        return False
    specs = compute._read_json(specs_path)
    out_dir = attempt_dir(job.pk, attempt)
    pending = [s for s in specs if not compute._chunk_path(out_dir, s).exists()]
    log.warning("job %s attempt %s: chord silent for %ss; re-sending %s of %s chunks",
                job.pk, attempt, settings.JOB_STALE_AFTER, len(pending), len(specs))
    dispatch(job, attempt, specs, pending=pending)
    return True


def _run_record_path(out_dir: Path, spec: dict[str, Any]) -> Path:
    return out_dir / compute.CHUNK_DIR / f"{int(spec['index']):06d}.run.json"


def chunk_runs(out_dir: Path, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who computed each chunk and when (the records `run_chunk` left beside the chunk files),
    in chunk order; a chunk whose worker died between its file and its record has none."""
    runs = []
    for spec in specs:
        path = _run_record_path(out_dir, spec)
        if outputs.exists(path):
            runs.append(compute._read_json(path))
    return runs


def run_chunk(
    job_id: int, attempt: int, spec: dict[str, Any], *, requeue: Requeue | None,
    worker: str = "", span: Span | None = None,
) -> None:
    """Compute one chunk and record beside it which worker process ran it, from when to when
    (`span`: from the moment the task began, when the task gives it), its CPU seconds and which
    inputs it had to load rather than find in the process's cache; the merge puts these records
    in the result (`chunk_runs`), so anyone can see whether a job's chunks ran side by side."""
    span = span or Span()
    if not services.job_is_current(job_id=job_id, attempt=attempt):
        return  # cancelled, failed or superseded: skip the work
    job = selectors.job_for_worker(job_id)
    out_dir = attempt_dir(job_id, attempt)
    with Heartbeat(job_id, attempt), guarded(job, attempt, requeue=requeue):
        mark = inputs.built_count()
        if strategies.for_job(job).run_chunk(job, out_dir, spec):
            compute.write_json_once(_run_record_path(out_dir, spec), {
                "index": int(spec["index"]), "worker": worker, "pid": os.getpid(),
                **span.record(), "loaded": inputs.built_since(mark),
            })
            services.job_chunk_done(job_id=job_id, attempt=attempt)


def run_merge(
    job_id: int, attempt: int, specs: list[dict[str, Any]], *, requeue: Requeue | None
) -> None:
    if not services.job_is_current(job_id=job_id, attempt=attempt):
        return
    job = selectors.job_for_worker(job_id)
    out_dir = attempt_dir(job_id, attempt)
    with Heartbeat(job_id, attempt), guarded(job, attempt, requeue=requeue):
        services.job_set_progress(
            job_id=job_id, attempt=attempt, progress=services.PROGRESS_MERGING
        )
        result = strategies.for_job(job).run_merge(job, out_dir, specs)
        _store(job, attempt, out_dir, {**result, "chunk_runs": chunk_runs(out_dir, specs)})


def run_inline(job_id: int, *, worker: str = "inline") -> Job:
    """Claim and run a job in this process, unchunked (the demo and tests use the same path a
    worker does, minus the broker)."""
    job = services.job_claim(job_id=job_id, worker=worker)
    if job is not None:
        run_attempt(job)
    return Job.objects.get(pk=job_id)
