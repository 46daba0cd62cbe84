"""What a job runs on: the model artifact and dataset files, checked before use.

The rules: the artifact is loaded only by `runners.loading.load_model`, which re-hashes the bytes
against the sha256 recorded on the job (the version's) and refuses untrusted skops types; a
dataset file is re-hashed against the job's `data_sha256` before it is read. Files come from the
artifact store only (a verified local copy, cached by sha256 on this machine); files missing
from storage or storage that cannot be reached are transient (another machine may still be
copying them), everything else is the user's to fix. A worker process keeps the last few loaded models and frames, keyed by sha256,
so the chunks of one job do not reload them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings

from common import artifact_store
from explainability.runners.data import read_table
from explainability.runners.errors import JobInputError, TransientJobError, UnsafeArtifactError
from explainability.runners.loading import LoadedModel, load_model
from registry import skops_types

_CACHE_SIZE = 4
_lock = threading.Lock()
_cache: OrderedDict[tuple, Any] = OrderedDict()
# What this process built lately, with its ordinal ("model", "frame", ...): enough for a chunk
# to say what it loaded, bounded so a long-lived worker does not keep a list of every build.
_built: deque[tuple[int, str]] = deque(maxlen=64)
_built_total = 0


def remember(key: tuple, build: Callable[[], Any]) -> Any:
    """`build()` once per worker process for `key` (kept among the last few models, frames and
    derived inputs; a key must name what the value was made from, e.g. a verified sha256)."""
    return _cached(key, build)


def _cached(key: tuple, build: Callable[[], Any]) -> Any:
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = build()
    global _built_total
    with _lock:
        _built_total += 1
        _built.append((_built_total, str(key[0])))
        _cache[key] = value
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def built_count() -> int:
    """How many inputs this process has built (loaded, not found in its cache) so far."""
    with _lock:
        return _built_total


def built_since(mark: int) -> list[str]:
    """The kinds of input (``"model"``, ``"frame"``...) this process built since
    ``built_count()`` was ``mark``: a chunk records what it had to load."""
    with _lock:
        return [kind for ordinal, kind in _built if ordinal > mark]


def trusted_types() -> list[str]:
    return skops_types.configured_trusted_types()


def _stored_file(artifact, what: str) -> Path:
    """A verified local copy of a stored file, from the storage layer (never a path of our
    own making): missing or unreachable storage is transient, changed bytes are unsafe."""
    if artifact is None:
        raise JobInputError(f"The {what} has no uploaded file to analyse")
    try:
        return artifact_store.local_copy(artifact.storage_path, artifact.sha256, what=what)
    except artifact_store.StoredFileMissing as exc:
        raise TransientJobError(str(exc)) from exc
    except artifact_store.StorageUnavailable as exc:
        raise TransientJobError(exc.detail) from exc
    except artifact_store.StoredFileCorrupt as exc:
        raise UnsafeArtifactError(str(exc)) from exc


def model_path(version) -> Path:
    return _stored_file(version.artifact, f"artifact of {version.ref}")


def dataset_path(dataset_version) -> Path:
    return _stored_file(dataset_version.file, f"dataset {dataset_version.ref}")


def load_version_model(version, expected_sha256: str) -> LoadedModel:
    """The version's model, loaded safely; feature names from the model or else its signature."""
    path = model_path(version)
    stat = path.stat()
    model = _cached(
        ("model", str(path), expected_sha256, stat.st_size, stat.st_mtime_ns),
        lambda: load_model(
            path, artifact_format=version.artifact_format, expected_sha256=expected_sha256,
            trusted_types=trusted_types(),
        ),
    )
    signature = signature_features(version)
    if model.feature_names is None and signature:
        model.feature_names = signature
    elif model.feature_names and signature and list(model.feature_names) != signature:
        raise JobInputError(
            f"The version's signature lists the features {', '.join(signature)} but the model "
            f"was fitted on {', '.join(model.feature_names)}; register a corrected version"
        )
    return model


def signature_features(version) -> list[str]:
    inputs = (version.signature or {}).get("inputs") or []
    return [str(i["name"]) for i in inputs if isinstance(i, dict) and i.get("name")]


def check_data_sha256(path: Path, expected: str, ref: str) -> None:
    actual = artifact_store.sha256_of(path)
    if actual != (expected or "").lower():
        raise UnsafeArtifactError(
            f"The data file of {ref} has sha256 {actual} but {expected} was registered; it "
            "changed after registration and will not be used"
        )


def read_dataset(
    dataset_version, expected_sha256: str, *, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """The dataset version's table (optionally only `columns`), after its sha256 check."""
    path = dataset_path(dataset_version)
    check_data_sha256(path, expected_sha256, dataset_version.ref)
    stat = path.stat()
    key = ("frame", str(path), stat.st_size, stat.st_mtime_ns, tuple(columns or ()))
    return _cached(key, lambda: _read(path, dataset_version.data_format, columns))


def _read(path: Path, data_format: str, columns: Sequence[str] | None) -> pd.DataFrame:
    # Stored files are content-addressed without an extension; the reader picks the format by
    # extension, so it reads through a link that carries the registered format.
    suffix = ".parquet" if data_format == "parquet" else ".csv"
    with tempfile.TemporaryDirectory(prefix="gatehouse-data-") as tmp:
        link = Path(tmp) / f"data{suffix}"
        os.symlink(path, link)
        return read_table(link, columns=list(columns) if columns else None)


def dataset_columns(dataset_version) -> list[str]:
    """Column names from the registered schema (empty when unknown)."""
    return [str(c["name"]) for c in (dataset_version.schema or []) if isinstance(c, dict)]


def parquet_chunks(
    dataset_version, expected_sha256: str, *, chunk_rows: int, columns: Sequence[str]
) -> tuple[Path, int, int]:
    """The dataset's `columns` as a Parquet file with one row group per chunk (cached by sha256
    and chunk size, shared by jobs); returns (path, rows, row groups)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cache = Path(settings.JOB_OUTPUT_ROOT) / "_cache"
    cache.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256("\x1f".join(columns).encode()).hexdigest()[:12]
    name = f"{expected_sha256}-{chunk_rows}-{digest}.parquet"
    target = cache / name
    if not target.exists():
        frame = read_dataset(dataset_version, expected_sha256, columns=columns)
        fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(
                pa.Table.from_pandas(frame, preserve_index=False), tmp, row_group_size=chunk_rows
            )
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    meta = pq.ParquetFile(target).metadata
    return target, meta.num_rows, meta.num_row_groups


def planned_chunks(dataset_version, expected_sha256: str, plan: dict[str, Any]) -> Path:
    """The chunked Parquet file a plan names, rebuilt on this machine when the plan was made on
    another (same sha256, chunk size and columns: the same rows in the same row groups)."""
    path = Path(plan["parquet"])
    if path.is_file() or "chunk_rows" not in plan:
        return path
    return parquet_chunks(
        dataset_version, expected_sha256, chunk_rows=int(plan["chunk_rows"]),
        columns=plan["columns"],
    )[0]


def read_row_group(path: Path, index: int) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).read_row_group(index).to_pandas()
