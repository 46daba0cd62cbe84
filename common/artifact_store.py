"""Artifact storage: the one door to stored files (model artifacts, dataset files, document
attachments, job outputs), through Django's storage API.

The rules: `ARTIFACT_STORAGE=local` (the embedded default) keeps files under ARTIFACT_ROOT;
`ARTIFACT_STORAGE=s3` keeps them in an S3-compatible bucket (django-storages) and ARTIFACT_ROOT
is only this machine's staging folder and bounded read cache. Uploads are hashed while they are
streamed to a staging file (never read whole into memory), stored under their sha256 and never
overwritten. Readers get a local path only from `local_copy`, which verifies the bytes against
the registered sha256 (a cache hit is re-verified once per process). Storage that cannot be
reached is `StorageUnavailable` (HTTP 503); an object that is not there is `StoredFileMissing`;
bytes that do not match their sha256 are `StoredFileCorrupt`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage

from common.errors import DomainError, PayloadTooLarge

CHUNK = 1024 * 1024


class StorageUnavailable(DomainError):
    """The storage could not be reached or refused the request; nothing was stored."""

    status_code = 503
    code = "storage_unavailable"


class StoredFileMissing(Exception):
    """The storage has no object under the key (it may still be on its way from another host)."""


class StoredFileCorrupt(Exception):
    """The stored bytes do not hash to the sha256 that was registered for them."""


# --- configuration ------------------------------------------------------------------------


def is_s3() -> bool:
    return settings.ARTIFACT_STORAGE == "s3"


def artifact_root() -> Path:
    return Path(settings.ARTIFACT_ROOT)


@functools.lru_cache(maxsize=8)
def _s3_storage(options: tuple[tuple[str, Any], ...]) -> Storage:
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from storages.backends.s3 import S3Storage

    opts = dict(options)
    return S3Storage(
        bucket_name=opts["bucket"],
        endpoint_url=opts.get("endpoint_url") or None,
        region_name=opts.get("region") or None,
        location=opts.get("prefix") or "",
        # Keys are sha256 addresses, checked with exists() before a write: a second write of one
        # key can only carry the same bytes, so the backend's rename-on-clash is not wanted.
        file_overwrite=True,
        default_acl=None,
        querystring_auth=False,
        # Reads through S3File spool to disk past 8 MB instead of holding the object in memory.
        max_memory_size=8 * CHUNK,
        client_config=Config(
            connect_timeout=float(opts.get("connect_timeout") or 5),
            read_timeout=float(opts.get("read_timeout") or 60),
            retries={"max_attempts": int(opts.get("max_attempts") or 3), "mode": "standard"},
            signature_version="s3v4",
        ),
        # s3transfer reads parts ahead into memory (10 by default: 80 MB of the web process for
        # one upload); two in flight and two read ahead bound it to ~32 MB.
        transfer_config=_transfer_config(TransferConfig),
    )


def _transfer_config(cls):
    config = cls(multipart_threshold=8 * CHUNK, multipart_chunksize=8 * CHUNK, max_concurrency=2)
    # s3transfer's own knobs, which boto3's constructor does not take.
    config.max_in_memory_upload_chunks = 2
    config.max_in_memory_download_chunks = 2
    return config


def storage() -> Storage:
    """The configured storage (built from the current settings, so tests can point it away)."""
    if is_s3():
        return _s3_storage(tuple(sorted(settings.ARTIFACT_S3.items())))
    return FileSystemStorage(location=str(artifact_root()))


def _boto_errors() -> tuple[type[BaseException], ...]:
    if not is_s3():
        return ()
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None) or {}
    return int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)


@contextlib.contextmanager
def _reaching(action: str, *, writing: bool = False) -> Iterator[None]:
    """Turn a backend failure into StorageUnavailable with a sentence (404s pass through)."""
    errors = _boto_errors()
    try:
        yield
    except StoredFileMissing:
        raise
    except FileNotFoundError:
        raise
    except errors as exc:
        if _status(exc) == 404 and "NoSuchBucket" not in str(exc):
            raise StoredFileMissing(str(exc)) from exc
        outcome = "nothing was stored; try again" if writing else "try again"
        raise StorageUnavailable(
            f"The artifact storage could not {action} ({_describe(exc)}); {outcome} when the "
            "storage is reachable."
        ) from exc


def _describe(exc: BaseException) -> str:
    where = settings.ARTIFACT_S3.get("endpoint_url") or "S3"
    return f"{type(exc).__name__} at {where}: {exc}"


def check_configuration() -> None:
    """At start-up: with S3 configured, the bucket must exist and be reachable; a clear error
    names the bucket and endpoint otherwise (a process that would fail every upload should not
    start)."""
    if not is_s3():
        return
    opts = settings.ARTIFACT_S3
    bucket, endpoint = opts.get("bucket"), opts.get("endpoint_url") or "the AWS default endpoint"
    if not bucket:
        raise ImproperlyConfigured("ARTIFACT_STORAGE=s3 needs ARTIFACT_S3_BUCKET.")
    from botocore.exceptions import BotoCoreError, ClientError

    client = storage().connection.meta.client
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = _status(exc)
        if code == 404:
            raise ImproperlyConfigured(
                f"The artifact bucket {bucket!r} does not exist at {endpoint}. Create it (for "
                f"example `aws s3 mb s3://{bucket}`) or set ARTIFACT_S3_BUCKET to an existing "
                "bucket."
            ) from exc
        raise ImproperlyConfigured(
            f"The artifact bucket {bucket!r} at {endpoint} refused access (HTTP {code}): check "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the machine's role."
        ) from exc
    except BotoCoreError as exc:
        raise ImproperlyConfigured(
            f"The artifact storage at {endpoint} cannot be reached ({exc}); check "
            "ARTIFACT_S3_ENDPOINT_URL and the network."
        ) from exc
    finally:
        # This check runs before gunicorn (--preload) and Celery's pool fork their workers: the
        # client's pooled connections must not be shared by the forked processes, so each one
        # builds its own storage (and connection) on first use.
        client.close()
        _s3_storage.cache_clear()


# --- writing ------------------------------------------------------------------------------


def content_key(sha256: str, *, prefix: str = "") -> str:
    """The storage key of content with this sha256 (`prefix` scopes e.g. documents/)."""
    return f"{prefix}{sha256[:2]}/{sha256}"


def staging_dir() -> Path:
    path = artifact_root() / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Staged:
    """A local file that was hashed while it was written, waiting to be checked and stored."""

    path: Path
    sha256: str
    size: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def stage(upload: BinaryIO, *, max_bytes: int, too_large: str) -> Staged:
    """Stream an upload to a staging file while hashing; PayloadTooLarge(`too_large`) past
    max_bytes. An upload the hashing upload handler already wrote is adopted as it is."""
    ready = getattr(upload, "sha256", None)
    if ready and hasattr(upload, "temporary_file_path") and upload.size is not None:
        if upload.size > max_bytes:
            raise PayloadTooLarge(too_large)
        return Staged(Path(upload.temporary_file_path()), ready, upload.size)
    fd, name = tempfile.mkstemp(dir=staging_dir(), prefix="upload-")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in file_chunks(upload):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(too_large)
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    return Staged(Path(name), digest.hexdigest(), size)


def file_chunks(fh: BinaryIO, size: int = CHUNK) -> Iterable[bytes]:
    if hasattr(fh, "chunks"):
        yield from fh.chunks(size)
        return
    while True:
        block = fh.read(size)
        if not block:
            return
        yield block


class _StagedFile(File):
    # FileSystemStorage moves a file that has a temporary path (a rename, atomic on one
    # filesystem) instead of copying it; S3 streams it in bounded parts.
    def __init__(self, staged: Staged) -> None:
        super().__init__(open(staged.path, "rb"), name=staged.path.name)  # noqa: SIM115
        self._path = staged.path

    def temporary_file_path(self) -> str:
        return str(self._path)


def put(staged: Staged, *, prefix: str = "") -> str:
    """Store a staged file under its sha256 and return the key. An existing object is never
    overwritten (same key, same bytes). The staged file is gone afterwards, whatever happens."""
    key = content_key(staged.sha256, prefix=prefix)
    backend = storage()
    try:
        with _reaching("store the file", writing=True):
            if not backend.exists(key):
                with _StagedFile(staged) as content:
                    saved = backend.save(key, content)
                if saved != key:  # a concurrent upload of the same bytes won the name
                    backend.delete(saved)
    finally:
        staged.discard()
    return key


def put_file(path: Path, key: str) -> None:
    """Copy a local file to `key` (job outputs: the key names the job, not the content)."""
    backend = storage()
    with _reaching("store the file", writing=True), open(path, "rb") as fh:
        if backend.exists(key):
            backend.delete(key)
        backend.save(key, File(fh, name=path.name))


def exists(key: str) -> bool:
    with _reaching("be read"):
        return storage().exists(key)


def delete_prefix(prefix: str) -> None:
    """Remove every object under `prefix/` (job attempt folders of a discarded attempt)."""
    backend = storage()
    if not is_s3():
        import shutil

        shutil.rmtree(artifact_root() / prefix, ignore_errors=True)
        return
    with _reaching("delete files"):
        backend.bucket.objects.filter(Prefix=backend._normalize_name(prefix.rstrip("/") + "/")).delete()


def delete_key(key: str) -> None:
    with _reaching("delete files"):
        storage().delete(key)


def list_prefixes(prefix: str) -> list[str]:
    """The "folder" names directly under `prefix/`."""
    with _reaching("list files"):
        try:
            folders, _ = storage().listdir(prefix.rstrip("/") + "/")
        except FileNotFoundError:
            return []
    return list(folders)


# --- reading ------------------------------------------------------------------------------


def open_stored(key: str) -> IO[bytes]:
    """Open a stored object for reading as a binary stream (downloads, the MLflow adapter).
    S3 objects are streamed, never fetched whole first. FileNotFoundError when absent."""
    backend = storage()
    if not is_s3():
        return backend.open(key, "rb")
    try:
        with _reaching("be read"):
            body = backend.bucket.Object(backend._normalize_name(key)).get()["Body"]
    except StoredFileMissing as exc:
        raise FileNotFoundError(f"No stored file {key}") from exc
    return body


def uri(key: str) -> str:
    """The address of a stored object as other tools name it (s3://bucket/key or file://)."""
    if is_s3():
        prefix = (settings.ARTIFACT_S3.get("prefix") or "").strip("/")
        return f"s3://{settings.ARTIFACT_S3['bucket']}/{prefix + '/' if prefix else ''}{key}"
    return (artifact_root() / key).resolve().as_uri()


def key_for_uri(address: str) -> str | None:
    """The storage key an s3:// URI (in the configured bucket and prefix) names, else None."""
    if not is_s3() or not address.startswith("s3://"):
        return None
    bucket, _, path = address[len("s3://") :].partition("/")
    prefix = (settings.ARTIFACT_S3.get("prefix") or "").strip("/")
    if bucket != settings.ARTIFACT_S3["bucket"]:
        return None
    if prefix:
        if not path.startswith(prefix + "/"):
            return None
        path = path[len(prefix) + 1 :]
    return path or None


_verified_lock = threading.Lock()
_verified: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """The sha256 of a local file, remembered per process while its size and mtime hold."""
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns)
    with _verified_lock:
        if memo in _verified:
            return _verified[memo]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _verified_lock:
        if len(_verified) > 256:
            _verified.clear()
        _verified[memo] = value
    return value


def _corrupt(what: str, actual: str, expected: str) -> StoredFileCorrupt:
    return StoredFileCorrupt(
        f"The stored {what} has sha256 {actual} but {expected} was registered; it "
        "changed in storage after registration and will not be used"
    )


def local_copy(key: str, sha256: str, *, what: str) -> Path:
    """A local path holding the verified bytes of `key`: the stored file itself with local
    storage, else a copy in this machine's cache (ARTIFACT_ROOT/cache, keyed by sha256, bounded
    by ARTIFACT_CACHE_MAX_BYTES). Raises StoredFileMissing, StoredFileCorrupt or
    StorageUnavailable."""
    expected = (sha256 or "").lower()
    if not is_s3():
        path = artifact_root() / key
        if not path.is_file():
            raise StoredFileMissing(f"The {what} file is not in storage ({key})")
        actual = sha256_of(path)
        if actual != expected:
            raise _corrupt(what, actual, expected)
        return path
    cache = artifact_root() / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / expected
    if target.is_file():
        if sha256_of(target) == expected:
            now = time.time()
            os.utime(target, (now, target.stat().st_mtime))  # atime orders the eviction
            return target
        target.unlink(missing_ok=True)  # a damaged cache entry is fetched again
    _download(key, target, expected, what)
    _evict(cache, keep=target)
    return target


def _download(key: str, target: Path, expected: str, what: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            body = open_stored(key)
            try:
                with _reaching("be read"):
                    for block in body.iter_chunks(CHUNK):
                        digest.update(block)
                        out.write(block)
            finally:
                body.close()
        actual = digest.hexdigest()
        if actual != expected:
            raise _corrupt(what, actual, expected)
        os.replace(tmp, target)
    except FileNotFoundError as exc:
        raise StoredFileMissing(f"The {what} file is not in storage ({key})") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _evict(cache: Path, *, keep: Path) -> None:
    """Remove least recently used cache entries until the cache fits its bound. An entry a
    reader still has open stays readable (unlinked, not truncated)."""
    limit = int(settings.ARTIFACT_CACHE_MAX_BYTES)
    entries = []
    for entry in cache.iterdir():
        if entry.name.startswith("."):
            continue
        with contextlib.suppress(FileNotFoundError):
            stat = entry.stat()
            entries.append((stat.st_atime, stat.st_size, entry))
    total = sum(size for _, size, _ in entries)
    for _, size, entry in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        if entry == keep:
            continue
        entry.unlink(missing_ok=True)
        total -= size


def download_response(key: str, *, filename: str, sha256: str = ""):
    """A streamed download of a stored object (404 when it is gone, 503 when storage is down),
    carrying its sha256 so a client can check what it got."""
    from django.http import FileResponse

    from common.errors import NotFound

    try:
        stream = open_stored(key)
    except (FileNotFoundError, StoredFileMissing):
        raise NotFound(f"The stored file {filename!r} is missing from the artifact storage.") from None
    response = FileResponse(stream, as_attachment=True, filename=filename,
                            content_type="application/octet-stream")
    if sha256:
        response["ETag"] = f'"{sha256}"'
        response["X-Content-SHA256"] = sha256
    response["X-Content-Type-Options"] = "nosniff"
    return response
