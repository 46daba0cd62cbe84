"""Job output files (a chunked job's plan and chunk results, a result's files) shared between
machines through the artifact store.

The rules: an attempt works in its local folder JOB_OUTPUT_ROOT/<job>/attempt-<n>/. With local
storage every process shares that folder and nothing is copied. With S3 each machine has its own
folder, so a plan or chunk file is published to `job-output/<job>/attempt-<n>/...` in the bucket
as soon as it is written (another worker may compute the next chunk or the merge), a file that
is not here is fetched from there, and a succeeded attempt's files are published before success
is recorded; the web then serves them from the bucket.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO

from django.conf import settings

from common import artifact_store

PREFIX = "job-output"
log = logging.getLogger(__name__)


def shared() -> bool:
    return artifact_store.is_s3()


def _root() -> Path:
    return Path(settings.JOB_OUTPUT_ROOT)


def _key(path: Path) -> str:
    return f"{PREFIX}/{path.relative_to(_root()).as_posix()}"


def publish(path: Path) -> None:
    """Make a file written under JOB_OUTPUT_ROOT visible to every machine."""
    if shared():
        artifact_store.put_file(path, _key(path))


def publish_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(".tmp"):
            publish(path)


def exists(path: Path) -> bool:
    return path.exists() or (shared() and artifact_store.exists(_key(path)))


def fetch(path: Path) -> Path:
    """The file at `path`, copied here from the bucket when another machine wrote it."""
    if path.exists() or not shared():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            stream = artifact_store.open_stored(_key(path))
            try:
                shutil.copyfileobj(stream, out, artifact_store.CHUNK)
            finally:
                stream.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def remove(path: Path) -> None:
    """Remove a file or folder of an attempt, here and in the bucket."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    if shared():
        artifact_store.delete_prefix(_key(path))
        artifact_store.delete_key(_key(path))


def finished_locally(folder: Path) -> None:
    """After success with S3: the bucket holds the files, this machine's copy can go."""
    if shared():
        shutil.rmtree(folder, ignore_errors=True)


def discard_attempts(job_id: int, *, keep: str | None) -> None:
    """Remove every attempt folder of the job except `keep` (the succeeded one)."""
    root = _root() / str(job_id)
    if root.is_dir():
        for child in root.iterdir():
            if child.name != keep:
                shutil.rmtree(child, ignore_errors=True)
    if not shared():
        return
    try:
        for attempt in artifact_store.list_prefixes(f"{PREFIX}/{job_id}/"):
            if attempt != keep:
                artifact_store.delete_prefix(f"{PREFIX}/{job_id}/{attempt}")
    except artifact_store.StorageUnavailable:
        # Runs after commit: leftovers of a discarded attempt are never served (only the
        # succeeded attempt's listed files are), so a storage hiccup here must not fail anything.
        log.warning("could not remove the discarded outputs of job %s", job_id, exc_info=True)


def open_result_file(files_dir: str, name: str) -> IO[bytes] | None:
    """A result file for serving, from wherever the attempt's files are kept; None if absent."""
    path = _root() / files_dir / name
    if not shared():
        return open(path, "rb") if path.is_file() else None  # noqa: SIM115 - caller closes
    try:
        return artifact_store.open_stored(_key(path))
    except FileNotFoundError:
        return None
