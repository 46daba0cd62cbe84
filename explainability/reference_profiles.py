"""Drift reference profiles kept in the artifact storage: a reference dataset is sorted once,
by whichever worker first needs it, and every later drift job against it, on any worker of any
machine, reads the sorted columns back instead (``DriftReferenceProfile``).

The rules: a profile is found by the reference file's verified sha256 and the columns a job
compares (any stored profile covering them serves); its file is read only through
``artifact_store.local_copy``, which checks it against the sha256 recorded on the row. A
profile that is missing, altered or unreadable is rebuilt from the reference file and replaced;
storage or the database failing while a profile is written is logged and the job goes on.
Neither ever fails a job or changes its result: the result is the one the reference frame gives
(``run_drift`` on a stored profile equals ``run_drift`` on the frame).

When: the first drift job against a reference builds and stores its profile; and it is prepared
ahead of time (``tasks.prepare_drift_reference``) when a dataset version becomes the reference
of the scheduled drift checks, i.e. when a model version trained on it enters production, and
again (a no-op when stored) whenever the model's monitoring plan is saved. Not on every upload:
most uploads are never a reference (monthly batches are the *current* side, compared against the
training data), and a bank would not pay a million-row sort, or the storage, for each of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from django.db import DatabaseError, IntegrityError, transaction

from common import artifact_store
from explainability.models import DriftReferenceProfile, Job
from explainability.runners import drift, drift_profile
from explainability.runners.timing import Stopwatch
from governance import audit

log = logging.getLogger(__name__)

PREFIX = "drift-profiles/"
STORED, BUILT = "stored", "built"

# The profile file is only a faster way to the same numbers: whatever goes wrong with writing it
# (storage down, a full disk, the database) is logged, never the job's failure.
_WRITE_ERRORS = (artifact_store.StorageUnavailable, OSError, DatabaseError)


def columns_key(columns: Sequence[str], *, whole_file: bool) -> str:
    text = ("*\x1e" if whole_file else "") + "\x1f".join(str(c) for c in columns)
    return hashlib.sha256(text.encode()).hexdigest()


def covering(data_sha256: str, features: Sequence[str] | None) -> DriftReferenceProfile | None:
    """The smallest stored profile of the file with this sha256 that covers ``features`` (None:
    every column of the file)."""
    wanted = None if features is None else {str(f) for f in features}
    for row in DriftReferenceProfile.objects.filter(data_sha256=data_sha256).order_by(
        "size_bytes", "id"
    ):
        if (row.whole_file if wanted is None else wanted <= set(row.columns)):
            return row
    return None


def load(
    row: DriftReferenceProfile, read: Callable[[], pd.DataFrame]
) -> drift.ReferenceProfile | None:
    """The stored profile of ``row``, verified; None (logged) when its file is missing, altered
    or unreadable, or the storage cannot be reached."""
    what = f"drift profile {row.storage_key}"
    try:
        path = artifact_store.local_copy(row.storage_key, row.sha256, what=what)
        return drift_profile.load_profile(path, read=read)
    except (artifact_store.StoredFileMissing, artifact_store.StoredFileCorrupt,
            drift_profile.ProfileUnreadable, artifact_store.StorageUnavailable) as exc:
        log.warning("%s not used, the reference is profiled again: %s", what, exc)
        return None


def reference_profile(
    *, dataset_version, data_sha256: str, features: Sequence[str] | None,
    read: Callable[[], pd.DataFrame], job: Job | None = None, stopwatch: Stopwatch | None = None,
) -> tuple[drift.ReferenceProfile, str]:
    """The reference's profile for a comparison of ``features`` and where it came from: read
    back from storage (``"stored"``), or built from ``read()`` now and stored (``"built"``).
    ``read`` returns the reference frame with the job's columns, its sha256 checked. The
    stopwatch, if given, times the sections profile_load, read_reference, profile_sort and
    profile_store."""
    watch = stopwatch.section if stopwatch is not None else _untimed
    row = covering(data_sha256, features)
    if row is not None:
        with watch("profile_load"):
            profile = load(row, read)
        if profile is not None:
            return profile, STORED
    started = time.perf_counter()
    with watch("read_reference"):
        frame = read()
    with watch("profile_sort"):
        profile = drift.profile_reference(frame)
    with watch("profile_store"):
        store(profile, dataset_version=dataset_version, data_sha256=data_sha256,
              whole_file=features is None, job=job, started=started)
    return profile, BUILT


@contextlib.contextmanager
def _untimed(name: str) -> Iterator[None]:
    yield


def store(
    profile: drift.ReferenceProfile, *, dataset_version, data_sha256: str, whole_file: bool,
    job: Job | None = None, started: float | None = None,
) -> DriftReferenceProfile | None:
    """Write ``profile`` to the storage (under its own sha256) and record it, or replace the
    record of a profile of the same file and columns whose file is gone or altered. None, logged,
    when it could not be written."""
    started = time.perf_counter() if started is None else started
    staged = None
    try:
        staged = _staged(profile)
        key = artifact_store.content_key(staged.sha256, prefix=PREFIX)
        # A damaged object under the same key (same bytes expected) is removed, else `put`
        # would keep it: it never overwrites.
        present = artifact_store.exists(key)
        intact = present and _intact(key, staged.sha256)
        if present and not intact:
            artifact_store.delete_key(key)
        sha256, size = staged.sha256, staged.size
        artifact_store.put(staged, prefix=PREFIX)
        staged = None  # put moved (or removed) it
        return _record(
            profile, dataset_version=dataset_version, data_sha256=data_sha256,
            whole_file=whole_file, key=key, sha256=sha256, size=size, job=job,
            seconds=time.perf_counter() - started, written=not intact,
        )
    except _WRITE_ERRORS as exc:
        log.warning("the drift profile of %s was not stored (the job goes on): %s",
                    dataset_version.ref, exc)
        return None
    finally:
        if staged is not None:
            staged.discard()


def _staged(profile: drift.ReferenceProfile) -> artifact_store.Staged:
    fd, name = tempfile.mkstemp(dir=artifact_store.staging_dir(), prefix="drift-profile-")
    os.close(fd)
    path = Path(name)
    try:
        drift_profile.save_profile(profile, path)
        return artifact_store.Staged(path, artifact_store.sha256_of(path), path.stat().st_size)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _intact(key: str, sha256: str) -> bool:
    try:
        artifact_store.local_copy(key, sha256, what=f"drift profile {key}")
        return True
    except (artifact_store.StoredFileMissing, artifact_store.StoredFileCorrupt):
        return False


def _describe(row: DriftReferenceProfile) -> dict[str, Any]:
    return {"storage_key": row.storage_key, "sha256": row.sha256, "size_bytes": row.size_bytes,
            "columns": len(row.columns), "numeric": len(row.numeric)}


def _record(
    profile: drift.ReferenceProfile, *, dataset_version, data_sha256: str, whole_file: bool,
    key: str, sha256: str, size: int, job: Job | None, seconds: float, written: bool,
) -> DriftReferenceProfile:
    """Create the row, or point an existing row whose file is gone or altered at the new file
    (``written``: this call put the file in the storage, it was not there intact); one audit
    event for the change, none when another worker recorded the same intact file first."""
    columns = [str(c) for c in profile.columns]
    fields = {
        "columns": columns, "numeric": [str(c) for c in profile.numeric_columns()],
        "whole_file": whole_file, "dataset_version": dataset_version, "storage_key": key,
        "sha256": sha256, "size_bytes": size, "build_seconds": round(seconds, 3),
        "built_by_job": job,
    }
    ident = {"data_sha256": data_sha256,
             "columns_key": columns_key(columns, whole_file=whole_file)}
    model_name = job.model_version.model.name if job is not None else ""
    payload = {"dataset_version": dataset_version.ref, "data_sha256": data_sha256,
               "job": job.pk if job is not None else None}
    for _ in range(2):  # a concurrent first insert of the same profile: read it the second time
        try:
            with transaction.atomic():
                row = DriftReferenceProfile.objects.select_for_update().filter(**ident).first()
                if row is None:
                    row = DriftReferenceProfile.objects.create(**ident, **fields)
                    audit.record(action="explainability.drift_profile.stored", target=row,
                                 model_name=model_name,
                                 payload={**payload, "after": _describe(row)})
                    return row
                if row.sha256 == sha256 and not written:
                    return row  # another worker stored the same file meanwhile
                if row.sha256 != sha256 and _intact(row.storage_key, row.sha256):
                    return row  # another worker's intact file (ours stays unreferenced)
                before = _describe(row)
                for name, value in fields.items():
                    setattr(row, name, value)
                row.save()
                audit.record(action="explainability.drift_profile.replaced", target=row,
                             model_name=model_name,
                             payload={**payload, "before": before, "after": _describe(row),
                                      "reason": "the stored file was missing or altered"})
                return row
        except IntegrityError:
            continue
    raise DatabaseError("the drift profile row could not be written")


def prepare_for_version(version_id: int) -> str:
    """Store the profile the version's scheduled drift checks will compare against: its
    training data (the schedule's reference), with the columns a drift job of it compares (the
    signature's features, else every column). A sentence saying what happened."""
    from explainability import inputs
    from explainability.runners.errors import JobInputError, TransientJobError
    from explainability.services import training_dataset
    from registry.models import ModelVersion

    version = ModelVersion.objects.select_related("model").filter(pk=version_id).first()
    reference = training_dataset(version) if version is not None else None
    if reference is None or reference.file_id is None:
        return "no reference dataset file"
    features = inputs.signature_features(version) or None
    row = covering(reference.sha256, features)
    if row is not None and load(row, read=_unused) is not None:
        return f"stored already ({row.storage_key})"
    started = time.perf_counter()
    try:
        frame = inputs.read_dataset(reference, reference.sha256, columns=features)
        profile = drift.profile_reference(frame)
    except (JobInputError, TransientJobError) as exc:  # the first drift job will say so, with the job's own error
        log.warning("the drift reference of %s was not prepared: %s", version.ref, exc)
        return f"not prepared: {exc}"
    stored = store(profile, dataset_version=reference, data_sha256=reference.sha256,
                   whole_file=features is None, started=started)
    return f"stored {stored.storage_key}" if stored is not None else "not stored"


def _unused() -> pd.DataFrame:
    raise AssertionError("checking a stored profile reads no rows")
