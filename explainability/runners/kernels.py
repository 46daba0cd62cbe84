"""The rules shared by the serial numba kernels of the fairness and drift runners.

- A kernel is compiled on its first call and cached on disk (``cache=True``), and releases the
  GIL (``nogil=True``: drift runs features on threads).
- Its arguments reach it with one type each (``kernel_input``: C-contiguous and read-only, a view
  unless the caller's array was strided or of another dtype). numba compiles one machine-code
  version per combination of argument types, so without this a model's probability column (a
  strided slice), a read-only column from pandas and a fresh array would each compile (or load
  from the cache) a version of their own, in the middle of a job.
- ``warm_up`` calls every such kernel once on a few rows: a Celery worker does it in its main
  process before forking its pool (``explainability.preload``), so no job pays for numba's start
  (its CPU target, its imports) or for loading a kernel. Only serial kernels belong here: a
  parallel one would start threads, which do not survive the fork.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

try:  # numba ships with shap (a pinned dependency)
    import numba
except ImportError:  # pragma: no cover - numba is pinned in requirements.txt
    numba = None


def jit(function: Callable) -> Callable:
    """``function`` compiled by numba (cached on disk, without the GIL)."""
    if numba is None:  # pragma: no cover
        return function
    return numba.njit(cache=True, nogil=True)(function)


def kernel_input(values: Any, dtype: type) -> np.ndarray:
    """``values`` as a C-contiguous, read-only array of ``dtype`` (a view when it already is
    one): the one type a kernel's array argument has, whoever calls it."""
    array = np.ascontiguousarray(values, dtype=dtype).view()
    array.flags.writeable = False
    return array


def warm_up() -> None:
    """Load every serial kernel of the fairness and drift runners (compiling it when the cache
    is cold), on a few rows."""
    from . import drift, outcomes

    outcomes.warm_up()
    drift.warm_up()
