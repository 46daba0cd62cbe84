"""What a Celery worker loads once, in its main process, before its pool forks the processes
that run jobs (called at `worker_init` by config/celery.py when WORKER_PRELOAD_JOBS is on: an
idle worker then holds ~270 MB more, shared by its pool, which is why it is off by default).

The task modules import little (the web processes import them too), so a job imports what it
computes with on first use: pandas, pyarrow's readers, skops and scikit-learn to load a model,
shap, scipy.stats for drift's tests; and numba starts (its CPU target, its own imports) and loads
each kernel from its on-disk cache the first time one is called. In a fresh pool process that is
seconds on the first job: the first decisions-based fairness job spent ~0.3 s CPU of its metrics
in numba, the first model-based one ~2 s importing skops and scikit-learn
(bench/evidence_bench.py section 3 measures both). Done here, every pool process is forked with
all of it loaded, and its memory pages stay shared (`gc.freeze` runs after).

The rule: nothing here may start work on threads (a pyarrow read, numba's parallel SHAP kernel,
an xgboost or onnxruntime call): threads do not survive a fork, and a library whose pool was
started before one can hang in the child. Importing the libraries below starts none of theirs
(OpenBLAS's, which numpy starts, restarts itself after a fork).
"""

from __future__ import annotations

import importlib
import logging

from explainability.runners import kernels

log = logging.getLogger(__name__)

#: Imported by jobs on first use; the runners' own modules (and through them numpy and pandas).
MODULES = (
    "shap",
    "skops.io",
    "sklearn.ensemble",
    "explainability.strategies",
    "explainability.runners.drift",
    "explainability.runners.fairness",
    "explainability.runners.native_tree_shap",
    "explainability.runners.shap_explainers",
    "explainability.runners.shap_plots",
    "explainability.decisions_compute",
    "pyarrow.csv",
    "pyarrow.parquet",
    "scipy.stats",
)


def preload_worker() -> list[str]:
    """Import `MODULES` and load the fairness and drift kernels (`kernels.warm_up`); the names
    imported."""
    for name in MODULES:
        importlib.import_module(name)
    kernels.warm_up()
    log.info("preloaded the job code: %s", ", ".join(MODULES))
    return list(MODULES)
