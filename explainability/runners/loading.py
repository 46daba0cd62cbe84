"""Safe loading of uploaded model artifacts.

The rules, in order: the file is read once and its sha256 must equal the registered one (so what
is checked is exactly what is loaded); pickle and joblib files are refused by format name and by
their magic bytes, never unpickled; a skops file is loaded only when every type skops reports as
untrusted matches the allowlist (exact names, or prefixes ending in ``.``) and none matches the
deny-list, and skops is then told to trust exactly those reported, checked types; an ONNX file
runs in onnxruntime on the CPU; an XGBoost model file (XGBoost's own JSON or UBJSON format: trees
and parameters as data, no code) is parsed by XGBoost and wrapped in its scikit-learn class chosen
by the model's objective. Anything else is refused.
"""

import hashlib
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from registry import skops_types, xgboost_files

from .errors import JobInputError, TransientJobError, UnsafeArtifactError
from .onnx_model import OnnxModel

# The type rules are registry's (registration checks them at upload); one rule, used twice.
DEFAULT_TRUSTED_TYPE_PREFIXES = skops_types.DEFAULT_TRUSTED_TYPE_PREFIXES
DENIED_TYPE_PREFIXES = skops_types.DENIED_TYPE_PREFIXES
is_type_trusted = skops_types.is_type_trusted

PICKLE_REFUSAL = (
    "Pickle/joblib artifacts are never loaded; export the model with skops (.skops), ONNX, or "
    "XGBoost's own model format (save_model to .json or .ubj)"
)
#: Formats load_model accepts (registry.choices.ArtifactFormat holds the same values).
SUPPORTED_FORMATS = ("skops", "onnx", "xgboost")
_PICKLE_FORMATS = {"pickle", "pkl", "joblib", "cloudpickle", "dill", "pt", "pth"}
_PICKLE_EXTENSIONS = (".pkl", ".pickle", ".joblib", ".jbl", ".dill", ".pt", ".pth")
# pickle protocol >= 2, then joblib's compressed containers: zlib, gzip, bz2, xz, lzma, lz4, legacy.
_PICKLE_MAGICS = (b"\x80", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00", b"\x04\x22\x4d\x18")
_ZLIB_MAGIC = re.compile(rb"^x[\x01\x5e\x9c\xda]")
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class LoadedModel:
    """A model ready to score: the estimator (or ONNX wrapper) plus what the runners need to know.

    ``kind`` is one of "pipeline", "sklearn", "lightgbm", "xgboost", "onnx" (the family of the
    outermost object). ``predict`` / ``predict_proba`` accept a DataFrame or an array in
    ``feature_names`` order and hand the estimator what it was fitted on (a frame with named
    columns, or a plain array).
    """

    model: Any
    kind: str
    artifact_format: str = "skops"
    sha256: str = ""
    feature_names: list[str] | None = None
    load_warnings: list[str] = field(default_factory=list)
    #: What explainers derive from the model once (e.g. precomputed TreeSHAP tables), kept with
    #: it so every chunk a worker computes reuses them.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def classes(self) -> list[Any] | None:
        """The class labels in ``predict_proba`` column order, when the model exposes them."""
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else list(np.asarray(classes).tolist())

    @property
    def is_classifier(self) -> bool:
        """Whether the model produces class probabilities."""
        if isinstance(self.model, OnnxModel):
            return self.model.proba_output is not None
        return hasattr(self.model, "predict_proba")

    def model_input(self, X: Any) -> Any:
        """``X`` as the estimator expects it (column order, frame or array)."""
        if self.kind == "onnx":
            return X
        wants_frame = hasattr(self.model, "feature_names_in_")
        if isinstance(X, pd.DataFrame):
            if self.feature_names is not None:
                missing = [name for name in self.feature_names if name not in X.columns]
                if missing:
                    raise JobInputError(
                        f"Columns {', '.join(repr(name) for name in missing)} are missing; the "
                        f"model's signature expects: {', '.join(self.feature_names)}"
                    )
                X = X[self.feature_names]
            return X if wants_frame else X.to_numpy()
        values = np.asarray(X)
        if wants_frame and self.feature_names is not None:
            return pd.DataFrame(values, columns=self.feature_names)
        return values

    def predict(self, X: Any) -> np.ndarray:
        """The model's own ``predict`` (labels for classifiers)."""
        try:
            return np.asarray(self.model.predict(self.model_input(X)))
        except ValueError as exc:
            raise JobInputError(f"The model could not score the data: {exc}") from exc

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities as an ``(n, classes)`` float array."""
        if not self.is_classifier:
            raise JobInputError(
                "The model has no predict_proba, so it is not a probabilistic classifier"
            )
        try:
            return np.asarray(self.model.predict_proba(self.model_input(X)), dtype=float)
        except ValueError as exc:
            raise JobInputError(f"The model could not score the data: {exc}") from exc


def load_model(
    path: str | os.PathLike[str],
    *,
    artifact_format: str,
    expected_sha256: str,
    trusted_types: Sequence[str] | None = None,
) -> LoadedModel:
    """Load a skops or ONNX artifact after the checks in the module docstring.

    ``trusted_types`` defaults to ``DEFAULT_TRUSTED_TYPE_PREFIXES``.
    """
    fmt = (artifact_format or "").strip().lower().lstrip(".")
    name = os.path.basename(os.fspath(path)).lower()
    if fmt in _PICKLE_FORMATS or name.endswith(_PICKLE_EXTENSIONS):
        raise UnsafeArtifactError(PICKLE_REFUSAL)
    if fmt not in SUPPORTED_FORMATS:
        raise UnsafeArtifactError(
            f"Artifact format '{artifact_format}' is not supported; export the model with skops "
            "(.skops), ONNX, or XGBoost's own model format (.json / .ubj)"
        )
    payload = _read(path)
    _check_sha256(payload, expected_sha256)
    if _looks_pickled(payload):
        raise UnsafeArtifactError(PICKLE_REFUSAL)
    sha256 = hashlib.sha256(payload).hexdigest()
    if fmt == "onnx":
        if payload.startswith(_ZIP_MAGIC):
            raise UnsafeArtifactError(
                "The artifact is a zip archive (a skops file?), not an ONNX model"
            )
        model = OnnxModel(payload)
        return LoadedModel(
            model=model,
            kind="onnx",
            artifact_format="onnx",
            sha256=sha256,
            feature_names=model.feature_names,
        )
    if fmt == "xgboost":
        return _load_xgboost(payload, sha256)
    return _load_skops(payload, sha256, list(trusted_types or DEFAULT_TRUSTED_TYPE_PREFIXES))


def _load_xgboost(payload: bytes, sha256: str) -> LoadedModel:
    import json

    import xgboost

    try:
        booster = xgboost_files.parse(payload)
    except xgboost_files.XGBoostFileError as exc:
        raise JobInputError(str(exc)) from exc
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    if objective.startswith(("binary:", "multi:")):
        model = xgboost.XGBClassifier()
    elif objective.startswith("rank:"):
        model = xgboost.XGBRanker()
    else:
        model = xgboost.XGBRegressor()
    # The wrapper reads the same bytes again (it also restores what the scikit-learn API saved:
    # classes, feature names); the parse above already proved they are a valid model.
    model.load_model(bytearray(payload))
    return LoadedModel(
        model=model,
        kind="xgboost",
        artifact_format="xgboost",
        sha256=sha256,
        feature_names=_feature_names(model),
    )


def model_kind(model: Any) -> str:
    """Family of the outermost object: pipeline, lightgbm, xgboost, sklearn, onnx or other."""
    if isinstance(model, OnnxModel):
        return "onnx"
    module = type(model).__module__ or ""
    if module.startswith("sklearn.pipeline"):
        return "pipeline"
    for family in ("lightgbm", "xgboost", "sklearn"):
        if module == family or module.startswith(family + "."):
            return family
    return "other"


def _load_skops(payload: bytes, sha256: str, trusted_types: list[str]) -> LoadedModel:
    import skops.io as sio

    if not payload.startswith(_ZIP_MAGIC):
        raise UnsafeArtifactError("The artifact is not a skops archive (a .skops zip file)")
    try:
        reported = skops_types.reported_types(payload)
    except skops_types.SkopsInspectionError as exc:
        raise UnsafeArtifactError(str(exc)) from exc
    refused = skops_types.refused_types(reported, trusted_types)
    if refused:
        raise UnsafeArtifactError(
            f"The skops file contains types that are not on the allowlist: {', '.join(refused)}. "
            "Ask an administrator to review them before this model can be loaded"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = sio.loads(payload, trusted=list(reported))
        except Exception as exc:  # skops wraps many failure modes in generic exceptions
            raise JobInputError(f"The skops file could not be loaded: {exc}") from exc
    if not hasattr(model, "predict"):
        raise JobInputError(
            f"The skops file holds a {type(model).__name__}, not a model with predict()"
        )
    return LoadedModel(
        model=model,
        kind=model_kind(model),
        artifact_format="skops",
        sha256=sha256,
        feature_names=_feature_names(model),
        load_warnings=sorted({str(item.message) for item in caught}),
    )


def _feature_names(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    lgbm_names = getattr(model, "feature_name_", None)
    if lgbm_names and not all(re.fullmatch(r"Column_\d+", str(n)) for n in lgbm_names):
        return [str(name) for name in lgbm_names]
    get_booster = getattr(model, "get_booster", None)
    if callable(get_booster):
        xgb_names = getattr(get_booster(), "feature_names", None)
        if xgb_names:
            return [str(name) for name in xgb_names]
    return None


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError as exc:
        raise TransientJobError(f"The artifact file is not in storage yet: {exc}") from exc
    except OSError as exc:
        raise TransientJobError(f"The artifact file could not be read: {exc}") from exc


def _check_sha256(payload: bytes, expected: str) -> None:
    wanted = (expected or "").strip().lower().removeprefix("sha256:")
    if not re.fullmatch(r"[0-9a-f]{64}", wanted):
        raise UnsafeArtifactError("The registered sha256 is missing or malformed; refusing to load")
    actual = hashlib.sha256(payload).hexdigest()
    if actual != wanted:
        raise UnsafeArtifactError(
            f"The artifact's sha256 is {actual} but {wanted} was registered; the file changed "
            "after registration and will not be loaded"
        )


def _looks_pickled(payload: bytes) -> bool:
    head = payload[:8]
    return head.startswith(_PICKLE_MAGICS) or bool(_ZLIB_MAGIC.match(head)) or head[:2] == b"ZF"
