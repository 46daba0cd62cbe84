"""Reading an MLflow `source` through Gatehouse's artifact storage, so the server can pin the
artifact itself.

A source the server can read is one inside its artifact storage: with the local folder
(ARTIFACT_STORAGE=local) a `file://` URI or absolute path under ARTIFACT_ROOT; with object
storage (ARTIFACT_STORAGE=s3) an `s3://` URI in the configured bucket, under its prefix. It is
read through Django's storage API (`common.artifact_store.storage()`), streaming. Anything else
(another bucket, an HTTP URL, `runs:/`, `models:/`) is not readable and the caller must say the
sha256 itself.

An MLflow model directory (one holding an `MLmodel` file) is resolved to the one file Gatehouse
can load safely, as its MLmodel names it: the `sklearn` flavour saved with
`serialization_format: skops` (its `pickled_model`, e.g. model.skops) or the `onnx` flavour
(its `data`, e.g. model.onnx). A pickled flavour is refused: loading it runs arbitrary code.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage

from common import artifact_store
from common.errors import ValidationFailed

MLMODEL = "MLmodel"
MAX_MLMODEL_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ReadableSource:
    """The artifact file a source names, inside the artifact storage."""

    storage: Storage
    name: str  # the file's name in `storage`
    artifact_format: str  # "skops" | "onnx" | "" (from its suffix, decided by the registry)
    mlmodel_flavour: str = ""  # the MLmodel flavour it came from, when the source is a directory

    @property
    def filename(self) -> str:
        return posixpath.basename(self.name)


def artifact_storage() -> Storage:
    """The storage the server reads sources from: the configured artifact storage."""
    return artifact_store.storage()


def _bucket_and_prefix() -> tuple[str, str]:
    return settings.ARTIFACT_S3["bucket"], (settings.ARTIFACT_S3.get("prefix") or "").strip("/")


def describe_storage() -> str:
    """Where sources must be for the server to read them, for error sentences."""
    if artifact_store.is_s3():
        bucket, prefix = _bucket_and_prefix()
        return f"the artifact bucket (s3://{bucket}/{prefix + '/' if prefix else ''}...)"
    return f"the artifact root ({settings.ARTIFACT_ROOT}, as file:// URIs)"


def _s3_name(parsed) -> str | None:
    bucket, prefix = _bucket_and_prefix()
    key = posixpath.normpath(unquote(parsed.path).lstrip("/")) if parsed.path.strip("/") else ""
    if parsed.netloc != bucket or not key or key.startswith(".."):
        return None
    if prefix:
        if not key.startswith(prefix + "/"):
            return None
        key = key[len(prefix) + 1:]  # names in the storage are relative to its prefix
    return key


def storage_name(source: str) -> str | None:
    """The name within the artifact storage that `source` points at, or None when it points
    elsewhere. Local paths are resolved (symlinks too) before the check, so nothing outside the
    root is ever read; in S3 mode only keys in the configured bucket and prefix are."""
    parsed = urlparse(source)
    if artifact_store.is_s3():
        return _s3_name(parsed) if parsed.scheme in ("s3", "s3a") else None
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        raw = unquote(parsed.path)
    elif parsed.scheme == "" and source.startswith("/"):
        raw = source
    else:
        return None
    root = Path(settings.ARTIFACT_ROOT).resolve()
    path = Path(raw).resolve()
    if path == root or not path.is_relative_to(root):
        return None
    return path.relative_to(root).as_posix()


def _read_mlmodel(storage: Storage, name: str) -> dict:
    with storage.open(name, "rb") as fh:
        raw = fh.read(MAX_MLMODEL_BYTES + 1)
    if len(raw) > MAX_MLMODEL_BYTES:
        raise ValidationFailed(f"The MLmodel file {name} is larger than 1 MB; it is not an MLmodel file.")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValidationFailed(f"The MLmodel file {name} is not valid YAML ({exc.__class__.__name__}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise ValidationFailed(f"The MLmodel file {name} lists no flavors.")
    return data["flavors"]


def _inside(directory: str, relative: object) -> str:
    """`relative` (a path from an MLmodel file) joined to `directory`; refused if it leaves it."""
    joined = posixpath.normpath(posixpath.join(directory, str(relative or "")))
    if not relative or not joined.startswith(directory.rstrip("/") + "/"):
        raise ValidationFailed(
            f"The MLmodel file in {directory} names the model file {relative!r}, which is not "
            "inside the model directory."
        )
    return joined


PICKLE_REFUSAL = (
    "{what} is a pickled model ({detail}); loading it runs arbitrary code, so Gatehouse refuses "
    "it. Log the model as skops (mlflow.sklearn.log_model(model, ..., "
    "serialization_format=\"skops\")) or as ONNX (mlflow.onnx.log_model) and register that."
)


def model_file_of(directory: str, flavours: dict) -> tuple[str, str, str]:
    """(file name, format, flavour) of the safely loadable model file an MLmodel names."""
    onnx = flavours.get("onnx")
    if isinstance(onnx, dict):
        return _inside(directory, onnx.get("data")), "onnx", "onnx"
    sklearn = flavours.get("sklearn")
    if isinstance(sklearn, dict):
        fmt = str(sklearn.get("serialization_format") or "pickle").lower()
        if fmt == "skops":
            return _inside(directory, sklearn.get("pickled_model")), "skops", "sklearn"
        raise ValidationFailed(
            PICKLE_REFUSAL.format(what=f"The MLflow model in {directory}",
                                  detail=f"sklearn flavour, serialization_format={fmt}"),
            code="unsafe_artifact",
        )
    names = ", ".join(sorted(flavours)) or "none"
    raise ValidationFailed(
        PICKLE_REFUSAL.format(what=f"The MLflow model in {directory}",
                              detail=f"flavours: {names}; none of them is skops or ONNX"),
        code="unsafe_artifact",
    )


def resolve(source: str) -> ReadableSource | None:
    """The artifact file the server can read for `source`, or None when it cannot read it.
    A model directory without a skops/ONNX flavour, or a pickled one, is refused (400)."""
    name = storage_name(source)
    if name is None:
        return None
    storage = artifact_storage()
    mlmodel = posixpath.join(name, MLMODEL)
    if storage.exists(mlmodel):
        path, fmt, flavour = model_file_of(name, _read_mlmodel(storage, mlmodel))
        if not storage.exists(path):
            raise ValidationFailed(
                f"The MLmodel file in {source} names {posixpath.relpath(path, name)}, which is not "
                "in the model directory."
            )
        return ReadableSource(storage=storage, name=path, artifact_format=fmt, mlmodel_flavour=flavour)
    if posixpath.basename(name) == MLMODEL:
        return resolve(source.rsplit("/", 1)[0])
    if not storage.exists(name) or _is_directory(storage, name):
        return None
    return ReadableSource(storage=storage, name=name, artifact_format="")


def _is_directory(storage: Storage, name: str) -> bool:
    # Object stores have no directories (a key that exists is a file); a local folder does.
    return isinstance(storage, FileSystemStorage) and Path(storage.path(name)).is_dir()
