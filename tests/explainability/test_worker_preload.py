"""What a worker loads before forking its pool (explainability.preload): the libraries a job
imports on first use and the fairness and drift numba kernels, which then serve every job
whatever the layout of the arrays it passes, so no job compiles or loads one, with the same
numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
from django.conf import settings

from explainability.preload import MODULES
from explainability.runners import drift, kernels, outcomes


def _compiled() -> list[int]:
    return [len(k.signatures) for k in (outcomes._group_sums, outcomes._auc_twice_u,
                                        drift._ks_gaps)]


def test_model_scores_and_recorded_scores_run_one_compiled_kernel_and_agree():
    rng = np.random.default_rng(5)
    n = 20_000
    proba = rng.random((n, 2))
    truth = rng.random(n) < proba[:, 1]
    sensitive = pd.DataFrame({"sex": rng.choice(["F", "M"], n),
                              "band": rng.choice(["a", "b", "c"], n)})
    model_score = proba[:, 1]  # a model-based job's: a column of predict_proba
    recorded = pd.DataFrame({"score": model_score}).loc[:, "score"].to_numpy(dtype=float)
    assert not model_score.flags.c_contiguous and not recorded.flags.writeable
    kernels.warm_up()

    results = [outcomes.outcome_analysis(truth, score >= 0.5, score, sensitive)
               for score in (model_score, recorded, model_score.copy())]
    results.append(outcomes.outcome_analysis(truth, model_score >= 0.5, None, sensitive))

    assert results[0] == results[1] == results[2]
    assert results[3]["overall"]["accuracy"] == results[0]["overall"]["accuracy"]
    assert results[0]["overall"]["auc"] is not None
    assert _compiled()[:2] == [1, 1]


def test_the_ks_walk_compiles_once_for_any_sorted_sample():
    rng = np.random.default_rng(2)
    a = np.sort(rng.normal(size=20_000))
    b = np.sort(rng.normal(0.1, 1, size=20_001))
    read_only = a.copy()
    read_only.flags.writeable = False
    kernels.warm_up()

    assert drift.ks_test(a, b) == drift.ks_test(read_only, b) == drift.ks_test(a, b[::-1][::-1])
    assert _compiled()[2] == 1


def test_a_fresh_process_preloads_the_job_libraries_and_kernels_without_starting_threads():
    script = (
        "import json, sys, threading, django\n"
        "django.setup()\n"
        "from explainability.preload import MODULES, preload_worker\n"
        "before = [m for m in MODULES if m in sys.modules]\n"
        "preload_worker()\n"
        "from explainability.runners import drift, outcomes\n"
        "kernels = (outcomes._group_sums, outcomes._auc_twice_u, drift._ks_gaps)\n"
        "print(json.dumps({'before': before, 'after': [m for m in MODULES if m in sys.modules],"
        " 'kernels': [len(k.signatures) for k in kernels],"
        " 'threads': threading.active_count()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])

    assert "skops.io" not in got["before"] and "scipy.stats" not in got["before"]
    assert got["after"] == list(MODULES)
    assert got["kernels"] == [1, 1, 1]  # loaded (or compiled) once, before any job
    assert got["threads"] == 1  # nothing to lose in the fork
