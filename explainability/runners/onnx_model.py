"""An ONNX classifier or regressor behind the scikit-learn ``predict`` / ``predict_proba`` API.

The rules: the session runs on the CPU provider only, from bytes already checksummed by the loader
(so the file cannot change between check and load, and no external-data path is followed);
inputs are cast to the dtype each graph input declares (float32 for skl2onnx's usual ``X``);
a graph with one input per column is fed column by column in input order. Probabilities are read
from a tensor output or from skl2onnx's ZipMap output (a list of ``{class: probability}`` dicts),
whose columns are ordered by class label as scikit-learn orders ``classes_``.
"""

import json
from typing import Any

import numpy as np
import pandas as pd

from .errors import JobInputError

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.str_,
}


class OnnxModel:
    """A loaded ONNX graph with ``predict``, ``predict_proba``, ``feature_names`` and ``classes_``."""

    def __init__(self, payload: bytes) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                payload, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise JobInputError(f"The ONNX artifact could not be loaded: {exc}") from exc
        self.inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        self.label_output = next(
            (out.name for out in outputs if "label" in out.name.lower()), outputs[0].name
        )
        self.proba_output = next(
            (
                out.name
                for out in outputs
                if out.type.startswith("seq(map") or "prob" in out.name.lower()
            ),
            None,
        )
        self.classes_: np.ndarray | None = None
        self.feature_names = self._feature_names()

    @property
    def n_features(self) -> int | None:
        """Number of columns the graph takes, when its input shape says so."""
        if len(self.inputs) > 1:
            return len(self.inputs)
        shape = self.inputs[0].shape
        return shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None

    def predict(self, X: Any) -> np.ndarray:
        """Labels for a classifier, values for a regressor (first output)."""
        (result,) = self.session.run([self.label_output], self._feed(X))
        return np.asarray(result).ravel()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities as an ``(n, classes)`` float64 array."""
        if self.proba_output is None:
            raise JobInputError("The ONNX model has no probability output (is it a regressor?)")
        (result,) = self.session.run([self.proba_output], self._feed(X))
        if isinstance(result, list):
            if not result:
                return np.empty((0, 0 if self.classes_ is None else len(self.classes_)))
            labels = sorted(result[0])
            self.classes_ = np.asarray(labels)
            return np.array([[row[label] for label in labels] for row in result], dtype=float)
        proba = np.asarray(result, dtype=float)
        if self.classes_ is None and proba.ndim == 2:
            self.classes_ = np.arange(proba.shape[1])
        return proba

    def _feed(self, X: Any) -> dict[str, np.ndarray]:
        if len(self.inputs) == 1:
            frame_values = X[self.feature_names] if self._by_name(X) else X
            values = np.asarray(frame_values)
            if values.ndim == 1:
                values = values.reshape(1, -1)
            return {self.inputs[0].name: _cast(values, self.inputs[0].type)}
        columns = (
            [X[item.name].to_numpy() for item in self.inputs]
            if isinstance(X, pd.DataFrame)
            else list(np.asarray(X).T)
        )
        if len(columns) != len(self.inputs):
            raise JobInputError(
                f"The ONNX model takes {len(self.inputs)} input columns, got {len(columns)}"
            )
        return {
            item.name: _cast(np.asarray(column).reshape(-1, 1), item.type)
            for item, column in zip(self.inputs, columns, strict=True)
        }

    def _by_name(self, X: Any) -> bool:
        return (
            isinstance(X, pd.DataFrame)
            and self.feature_names is not None
            and all(name in X.columns for name in self.feature_names)
        )

    def _feature_names(self) -> list[str] | None:
        metadata = self.session.get_modelmeta().custom_metadata_map
        declared = metadata.get("feature_names")
        if declared:
            try:
                names = json.loads(declared)
            except ValueError:
                names = [name.strip() for name in declared.split(",")]
            return [str(name) for name in names]
        if len(self.inputs) > 1:
            return [item.name for item in self.inputs]
        return None


def _cast(values: np.ndarray, onnx_type: str) -> np.ndarray:
    dtype = _DTYPES.get(onnx_type)
    if dtype is None:
        raise JobInputError(f"The ONNX model takes an unsupported input type {onnx_type}")
    try:
        return values.astype(dtype)
    except (TypeError, ValueError) as exc:
        raise JobInputError(f"The data could not be converted to {onnx_type}: {exc}") from exc
