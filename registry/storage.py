"""The registry's upload checks in front of the artifact store (common.artifact_store).

Files are stored under their sha256. Pickle and joblib files are refused before anything is
kept; a .skops file must be a skops zip, an .onnx file must parse as an ONNX model, and an XGBoost
model file (.json / .ubj, XGBoost's own format: data, not code) must parse as one. The
checks read the local staging file; only what passes is stored.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from common import artifact_store
from common.artifact_store import Staged, file_chunks  # noqa: F401 - re-exported
from common.errors import ValidationFailed
from registry import skops_types, xgboost_files

PICKLE_EXTENSIONS = (".pkl", ".pickle", ".joblib", ".jbl", ".sav", ".pt", ".pth", ".h5")
REFUSAL = (
    "Pickle/joblib artifacts are refused: loading one runs arbitrary code. Export the model with "
    "skops (skops.io.dump → .skops), to ONNX (.onnx), or for XGBoost with its own save_model "
    "(.json / .ubj) and upload that instead."
)
_FORMAT_EXTENSIONS = {".skops": "skops", ".onnx": "onnx", ".ubj": "xgboost", ".json": "xgboost"}


def format_from_name(name: str) -> str:
    """The artifact format a file or URI name implies ("" when its extension says nothing)."""
    lower = name.lower()
    return next((fmt for ext, fmt in _FORMAT_EXTENSIONS.items() if lower.endswith(ext)), "")


def _looks_like_pickle(head: bytes) -> bool:
    # Pickle protocol 2+ starts with PROTO (0x80) then the protocol number; joblib's compressed
    # files start with a zlib/gzip/lzma/bz2 header ("ZF" for old joblib) wrapping a pickle.
    if len(head) >= 2 and head[0] == 0x80 and head[1] in (2, 3, 4, 5):
        return True
    return head.startswith((b"ZF", b"\x1f\x8b", b"\xfd7zXZ", b"BZh")) or head[:1] in (b"(", b"]", b"}")


def stage_upload(upload: BinaryIO) -> Staged:
    """The upload in a local staging file, hashed while streamed; 413 past MAX_ARTIFACT_BYTES."""
    limit = settings.MAX_ARTIFACT_BYTES
    return artifact_store.stage(
        upload, max_bytes=limit,
        too_large=f"The upload is larger than the limit of {limit} bytes (MAX_ARTIFACT_BYTES).",
    )


def check_model_file(path: Path, *, filename: str, artifact_format: str) -> None:
    """Refuse pickles and files that are not what their format says. Never loads the model."""
    lower = filename.lower()
    with open(path, "rb") as fh:
        head = fh.read(8)
    if lower.endswith(PICKLE_EXTENSIONS) or (
        artifact_format != "onnx" and not head.startswith(b"PK") and _looks_like_pickle(head)
    ):
        raise ValidationFailed(REFUSAL, errors={"artifact": [REFUSAL]}, code="unsafe_artifact")
    if artifact_format == "skops":
        ok = zipfile.is_zipfile(path)
        if ok:
            with zipfile.ZipFile(path) as zf:
                ok = "schema.json" in zf.namelist()
        if not ok:
            msg = "The artifact is not a skops file (expected a zip holding schema.json)."
            raise ValidationFailed(msg, errors={"artifact": [msg]})
        check_skops_types(path)
    elif artifact_format == "onnx":
        import onnx

        try:
            onnx.load_model(str(path), load_external_data=False)
        except Exception as exc:  # noqa: BLE001 - any parse failure means "not ONNX"
            msg = f"The artifact is not a valid ONNX model ({exc.__class__.__name__})."
            raise ValidationFailed(msg, errors={"artifact": [msg]}) from exc
    elif artifact_format == "xgboost":
        _check_xgboost_file(path)


def _check_xgboost_file(path: Path) -> None:
    # The parser jobs load with: a file that registers is one a job can load.
    try:
        xgboost_files.parse(path.read_bytes())
    except xgboost_files.XGBoostFileError as exc:
        msg = f"{exc}."
        raise ValidationFailed(msg, errors={"artifact": [msg]}) from exc


def check_skops_types(path: Path) -> None:
    """Refuse a skops archive holding a type the loader would refuse (the same rule,
    `skops_types`), naming the types: a version that can never be loaded is never registered."""
    try:
        refused = skops_types.refused_types(
            skops_types.reported_types(file=path), skops_types.configured_trusted_types()
        )
    except skops_types.SkopsInspectionError as exc:
        msg = f"{exc}."
        raise ValidationFailed(msg, errors={"artifact": [msg]}) from exc
    if refused:
        msg = (
            f"The skops file holds types that are not trusted: {', '.join(refused)}. Only types "
            "matching TRUSTED_SKOPS_TYPE_PREFIXES can be loaded; ask an administrator to review "
            "them, or export the model without them."
        )
        raise ValidationFailed(msg, errors={"artifact": [msg]}, code="untrusted_skops_types")


def check_data_file(path: Path, *, filename: str) -> str:
    """Return the data format ('csv' or 'parquet'), refusing anything else."""
    lower = filename.lower()
    with open(path, "rb") as fh:
        head = fh.read(4)
    if lower.endswith((".parquet", ".pq")):
        if head != b"PAR1":
            raise ValidationFailed("The file is not Parquet (missing PAR1 magic).", errors={"file": ["not parquet"]})
        return "parquet"
    if lower.endswith(".csv"):
        return "csv"
    msg = "Dataset files must be CSV (.csv) or Parquet (.parquet)."
    raise ValidationFailed(msg, errors={"file": [msg]})


def keep(staged: Staged) -> str:
    """Store a checked staged file under its sha256 (never overwriting); return the key."""
    return artifact_store.put(staged)
