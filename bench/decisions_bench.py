#!/usr/bin/env python
"""Fairness on recorded decisions at scale (results go in docs/BENCHMARKS.md).

A COMPAS-like table of N recorded decisions (default 3,000,000 rows) is written as CSV and as
Parquet and registered as two dataset versions of a vendor model's data. For each file a fairness
job with `mode: "decisions"` (score_text mapped to Medium/High, two_year_recid outcome, race and
sex, the three ProPublica filters, decile_score as the score) runs through the real job path in
this process: services.job_start, then runtime.run_inline (claim, sha256 check, streamed chunked
read, summed counts, outcome analysis with AUC and calibration, result and audit events).

In the same run, fairlearn directly on the same filtered rows: read the same columns with pandas,
filter, MetricFrame (count, selection rate, TPR, FPR, FNR, precision, accuracy) by race, by sex and
by race x sex. The ratio job / fairlearn is printed; the job also does the outcome analysis,
which fairlearn's MetricFrame does not.

Everything runs in a throw-away folder with its own SQLite database.

    .venv/bin/python bench/decisions_bench.py [--rows 3000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="gatehouse-decisions-bench-"))
os.environ.update({
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "GATEHOUSE_VAR_DIR": str(TMP / "var"),
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{TMP / 'bench.sqlite3'}"),
    "ARTIFACT_ROOT": str(TMP / "artifacts"),
    "JOB_OUTPUT_ROOT": str(TMP / "job-output"),
    "JOB_HEARTBEAT_SECONDS": "3600",
})

PARAMS = {
    "mode": "decisions", "prediction_column": "score_text", "outcome_column": "two_year_recid",
    "score_column": "decile_score", "sensitive_attributes": ["race", "sex"],
    "positive_values": ["Medium", "High"], "negative_values": ["Low"],
    "filters": ["days_b_screening_arrest <= 30", "days_b_screening_arrest >= -30",
                "is_recid != -1"],
}
COLUMNS = ["race", "sex", "decile_score", "score_text", "two_year_recid",
           "days_b_screening_arrest", "is_recid"]


def _setup():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import sklearn.metrics  # noqa: F401 - a worker has it loaded; keep the one-off import out of the timing

    from governance import services as gov
    from governance.choices import Role
    from tests import factories

    eng = gov.user_create(username="bench", roles=[Role.ENGINEER], teams=["credit"],
                          password="x", email="bench@example.com")
    from registry import services

    model = factories.model(eng, name="recidivism-tool", developers=["bench"])
    version = services.model_version_register(
        actor=eng, model=model, kind="vendor", vendor={"name": "Vendor", "product": "Tool"}
    )
    return eng, version


def _register(eng, path: Path):
    from registry import services
    from tests import factories

    ds = factories.dataset(eng, name=f"decisions-{path.suffix[1:]}",
                           sensitive_attributes=["race", "sex"])
    with open(path, "rb") as fh:
        return services.dataset_version_register(
            actor=eng, dataset=ds, file=fh, filename=path.name
        )


def _job(eng, version, dv) -> tuple[float, dict]:
    from explainability import runtime, services

    services._enqueue = lambda job_id: None  # run in this process, not through a broker
    job = services.job_start(actor=eng, version=version, kind="fairness", dataset=dv,
                             params=dict(PARAMS))
    started = time.perf_counter()
    job = runtime.run_inline(job.pk)
    elapsed = time.perf_counter() - started
    if job.status != "succeeded":
        raise SystemExit(f"job failed: {job.error_message}\n{job.error_detail}")
    return elapsed, job.result


def _fairlearn(path: Path) -> tuple[float, float, object]:
    import pandas as pd
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    started = time.perf_counter()
    if path.suffix == ".parquet":
        df = pd.read_parquet(path, columns=COLUMNS)
    else:
        df = pd.read_csv(path, usecols=COLUMNS)
    df = df[(df.days_b_screening_arrest <= 30) & (df.days_b_screening_arrest >= -30)
            & (df.is_recid != -1)]
    y_true = df.two_year_recid.to_numpy()
    y_pred = df.score_text.isin(["Medium", "High"]).to_numpy().astype(int)
    read = time.perf_counter() - started
    metrics = {"count": count, "selection_rate": selection_rate,
               "true_positive_rate": true_positive_rate,
               "false_positive_rate": false_positive_rate,
               "false_negative_rate": false_negative_rate,
               "precision": lambda t, p: precision_score(t, p, zero_division=0),
               "accuracy": accuracy_score}
    frames = [MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=sf)
              for sf in (df.race, df.sex, df[["race", "sex"]])]
    return time.perf_counter() - started, read, frames


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3_000_000)
    args = parser.parse_args()
    try:
        eng, version = _setup()
        from tests.vendor import compas

        started = time.perf_counter()
        table = compas.table(n=args.rows, seed=3)
        csv, parquet = TMP / "decisions.csv", TMP / "decisions.parquet"
        table.to_csv(csv, index=False)
        table.to_parquet(parquet, index=False)
        print(f"rows: {args.rows:,}; CSV {csv.stat().st_size / 1e6:.0f} MB, Parquet "
              f"{parquet.stat().st_size / 1e6:.0f} MB (written in "
              f"{time.perf_counter() - started:.1f} s)")
        for path in (csv, parquet):
            dv = _register(eng, path)
            elapsed, result = _job(eng, version, dv)
            fl_total, fl_read, frames = _fairlearn(path)
            race = frames[0].by_group
            got = {g["group"]: g for g in result["attributes"]["race"]["groups"]}
            for group, row in race.iterrows():  # same numbers, or the comparison means nothing
                assert abs(got[group]["selection_rate"] - row["selection_rate"]) < 1e-12
                assert got[group]["count"] == row["count"]
            kept = result["population"]["rows_after"]
            print(f"{path.suffix[1:]:>8}: decisions job {elapsed:6.2f} s "
                  f"({args.rows / elapsed:,.0f} rows/s read; {kept:,} rows after filters; "
                  f"incl. outcome analysis AUC {result['outcomes']['overall']['auc']:.3f}) | "
                  f"fairlearn MetricFrame x3 {fl_total:6.2f} s (of which read+filter "
                  f"{fl_read:.2f} s) | ratio job/fairlearn {elapsed / fl_total:.2f}x")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
