"""The JSON-serialisable plan and chunk records of a SHAP job.

The rules: a plan fixes everything random (rows, background, per-row seeds) so chunks computed
anywhere agree; a chunk's arrays travel as base64 little-endian float64 bytes, so a round trip
through JSON is exact.
"""

import base64
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .jsonable import to_jsonable


@dataclass
class ShapPlan:
    """Everything a worker needs, besides the model and the data, to compute any chunk."""

    explainer: str
    explainer_reason: str
    output_space: str
    feature_names: list[str]
    n_rows_total: int
    row_indices: list[int]
    seed: int
    background_method: str
    background_indices: list[int] | None = None
    background_data: list[list[float]] | None = None
    class_index: int | None = None
    class_label: Any = None
    n_outputs: int = 1
    feature_perturbation: str | None = None
    max_evals: int | None = None
    algorithm: str | None = None

    @property
    def rows_explained(self) -> int:
        """How many rows the plan explains."""
        return len(self.row_indices)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (what a task passes to the chunk tasks)."""
        return to_jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShapPlan":
        """Inverse of ``to_dict``."""
        return cls(**data)


@dataclass
class ShapChunk:
    """SHAP values of plan rows ``start:stop`` (positions in ``plan.row_indices``)."""

    start: int
    stop: int
    values: np.ndarray
    base_values: np.ndarray
    additivity_checked: bool = True
    additivity_max_gap: float | None = None
    notes: list[str] = field(default_factory=list)
    algorithm: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form; arrays travel as base64 float64 bytes (exact round trip)."""
        return {
            "start": self.start,
            "stop": self.stop,
            "values": _encode(self.values),
            "base_values": _encode(self.base_values),
            "additivity_checked": self.additivity_checked,
            "additivity_max_gap": self.additivity_max_gap,
            "notes": list(self.notes),
            "algorithm": self.algorithm,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShapChunk":
        """Inverse of ``to_dict``."""
        return cls(
            start=int(data["start"]),
            stop=int(data["stop"]),
            values=_decode(data["values"]),
            base_values=_decode(data["base_values"]),
            additivity_checked=bool(data.get("additivity_checked", True)),
            additivity_max_gap=data.get("additivity_max_gap"),
            notes=list(data.get("notes", [])),
            algorithm=data.get("algorithm"),
        )


def row_seed(seed: int, row_index: int) -> int:
    """The permutation explainer's seed for one row: independent of how rows are chunked."""
    return int(np.random.SeedSequence([int(seed), int(row_index)]).generate_state(1)[0])


def replace_plan(plan: ShapPlan, **changes: Any) -> ShapPlan:
    """A copy of ``plan`` with ``changes`` applied."""
    return ShapPlan(**{**asdict(plan), **changes})


def _encode(array: np.ndarray) -> dict[str, Any]:
    array = np.ascontiguousarray(array, dtype="<f8")
    return {
        "dtype": "<f8",
        "shape": list(array.shape),
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def _decode(data: dict[str, Any]) -> np.ndarray:
    if data.get("dtype") != "<f8":
        raise ValueError(f"SHAP chunk arrays must be '<f8', not {data.get('dtype')!r}")
    raw = base64.b64decode(data["data"], validate=True)
    return np.frombuffer(raw, dtype="<f8").reshape(data["shape"]).copy()
