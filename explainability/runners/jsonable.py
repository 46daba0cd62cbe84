"""Conversion of results to plain JSON values.

The rule: every dict a runner returns passes through ``to_jsonable`` so a task can store it as
JSON without knowing about NumPy: NumPy scalars become Python numbers, arrays and tuples become
lists, and NaN or infinity become ``None`` (JSON has no NaN).
"""

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Return ``value`` with every nested value made JSON-safe (see module docstring)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return [to_jsonable(item) for item in value.tolist()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    return str(value)
