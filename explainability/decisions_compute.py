"""The work of a fairness job on recorded decisions: no model is loaded, only the dataset's
prediction, outcome, score, sensitive and filter columns are read.

The rules:
- The data file is re-hashed against the job's `data_sha256` before it is read, as for every job.
- Columns the parameters name but the file lacks fail the job naming each one and its role.
- Rows are read in chunks (`runners.data.iter_table`): each chunk's confusion counts are summed
  (`merge_fairness_counts`), so memory is bounded by the chunk size plus the few compact arrays
  the outcome analysis needs (AUC and score deciles need every row at once). Large files may
  instead be split into a chord (one Parquet row group per chunk); the merge then streams the
  same columns once more for the outcome analysis, so both paths give the same result.
- The result has the model-based job's shape (groups, metrics, verdicts by the tier policy), plus
  `population` (rows before/after, each filter's effect), `decision_rule` and `outcomes`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from explainability import compute, inputs, outputs, policy
from explainability.models import Job
from explainability.runners import fairness
from explainability.runners.data import iter_table
from explainability.runners.errors import JobInputError
from explainability.runners.filters import parse_filters
from explainability.runners.timing import Stopwatch


def setup(job: Job) -> dict[str, Any]:
    """Columns, decision rule and the policy's thresholds (tightened by the job's parameters)."""
    p = job.params
    sensitive = p.get("sensitive_attributes") or list(job.dataset.dataset.sensitive_attributes)
    if not sensitive:
        raise JobInputError("No sensitive attributes: the dataset declares none and params list none")
    thresholds, source = policy.effective_fairness(job.model_version.model, p.get("thresholds"))
    options = {
        "prediction_column": p["prediction_column"], "outcome_column": p["outcome_column"],
        "sensitive_columns": list(sensitive), "threshold": p.get("threshold"),
        "positive_values": p.get("positive_values"), "negative_values": p.get("negative_values"),
        "positive_label": p.get("positive_label", 1), "filters": p.get("filters"),
    }
    roles = {
        p["prediction_column"]: "prediction column", p["outcome_column"]: "outcome column",
        **{c: "sensitive attribute" for c in sensitive},
        **{f.column: "filter" for f in parse_filters(p.get("filters"))},
    }
    if p.get("score_column"):
        roles.setdefault(p["score_column"], "score column")
    return {
        "options": options, "score_column": p.get("score_column"), "roles": roles,
        "columns": list(roles), "thresholds": thresholds, "source": source,
        "min_group_size": int(p.get("min_group_size") or 30),
        "chunk_rows": int(p.get("chunk_rows") or settings.JOB_FAIRNESS_CHUNK_ROWS),
    }


@contextlib.contextmanager
def _readable(job: Job) -> Iterator[Path]:
    """The checked data file under a name carrying its format (stored files have none)."""
    path = inputs.dataset_path(job.dataset)
    inputs.check_data_sha256(path, job.data_sha256, job.dataset.ref)
    suffix = ".parquet" if job.dataset.data_format == "parquet" else ".csv"
    with tempfile.TemporaryDirectory(prefix="gatehouse-decisions-") as tmp:
        link = Path(tmp) / f"data{suffix}"
        os.symlink(path, link)
        yield link


def _header(path: Path) -> list[str]:
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        return list(pd.read_csv(path, nrows=0).columns)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise JobInputError(f"The dataset could not be read: {exc}") from exc


def check_columns(available: list[str], plan: dict[str, Any]) -> None:
    """Fail naming every column the parameters need that the dataset lacks, with its role."""
    missing = [f"'{c}' ({role})" for c, role in plan["roles"].items() if c not in available]
    if missing:
        shown = ", ".join(available[:30]) + (", ..." if len(available) > 30 else "")
        noun = "Column" if len(missing) == 1 else "Columns"
        verb = "is" if len(missing) == 1 else "are"
        raise JobInputError(f"{noun} {', '.join(missing)} {verb} missing from the dataset; "
                            f"it has: {shown}")


class OutcomeRows:
    """The compact per-row arrays the outcome analysis needs, gathered chunk by chunk."""

    def __init__(self) -> None:
        self.truth: list[np.ndarray] = []
        self.pred: list[np.ndarray] = []
        self.score: list[np.ndarray] = []
        self.sensitive: list[pd.DataFrame] = []
        self.coded: list[dict] = []
        self.has_score = True

    def add(self, outcomes: fairness.Outcomes, score: np.ndarray | None) -> None:
        self.truth.append(np.asarray(outcomes.y_true, dtype=bool))
        self.pred.append(np.asarray(outcomes.y_pred, dtype=bool))
        self.has_score = self.has_score and score is not None
        if score is not None:
            self.score.append(score)
        self.sensitive.append(outcomes.sensitive.reset_index(drop=True))
        self.coded.append(outcomes.coded)  # made for the counts already

    def analysis(self) -> dict[str, Any]:
        def joined(parts: list[np.ndarray]) -> np.ndarray:
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        score = joined(self.score) if self.has_score and self.score else None
        one = len(self.sensitive) == 1  # one pass: the chunk's group codes serve as they are
        result = fairness.outcome_analysis(
            joined(self.truth), joined(self.pred), score,
            self.sensitive[0] if one else pd.concat(self.sensitive, ignore_index=True),
            coded=self.coded[0] if one else None,
        )
        if score is not None:
            finite = score[np.isfinite(score)]
            if finite.size and (finite.min() < 0 or finite.max() > 1):
                # The deciles and AUC stand; a gap between a 1-10 score and a rate means nothing.
                result["note"] = (
                    "The score is not a probability (values outside 0-1), so calibration is "
                    "shown as the observed rate per score decile without a calibration error"
                )
                for block in [result["overall"], *(b for g in result["groups"].values() for b in g)]:
                    block["expected_calibration_error"] = None
        return result


def _score(frame: pd.DataFrame, outcomes: fairness.Outcomes, plan: dict[str, Any]) -> np.ndarray | None:
    column = plan["score_column"]
    if not column:
        return outcomes.y_score
    series = frame[column]
    if not is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype):
        raise JobInputError(f"Score column '{column}' is not numeric ({series.dtype})")
    return series.loc[outcomes.sensitive.index].to_numpy(dtype=float)


def count_frame(frame: pd.DataFrame, plan: dict[str, Any], rows: OutcomeRows | None) -> dict:
    """Summable counts of one chunk (and its outcome arrays into `rows`, when given)."""
    frame = frame.reset_index(drop=True)
    outcomes = fairness.decision_outcomes(frame, require_rows=False, **plan["options"])
    if rows is not None:
        rows.add(outcomes, _score(frame, outcomes, plan))
    elif plan["score_column"]:
        _score(frame, outcomes, plan)  # a non-numeric score fails in the chunk too
    return outcomes.counts()


def stream(
    path: Path, plan: dict[str, Any], stopwatch: Stopwatch | None = None
) -> tuple[list[dict], OutcomeRows]:
    rows = OutcomeRows()
    frames = iter_table(path, columns=plan["columns"], chunk_rows=plan["chunk_rows"])
    parts = []
    while True:
        with stopwatch.section("read") if stopwatch else contextlib.nullcontext():
            frame = next(frames, None)
        if frame is None:
            break
        parts.append(count_frame(frame, plan, rows))
    if not parts:
        raise JobInputError("The dataset has no rows")
    return parts, rows


def finish(job: Job, plan: dict[str, Any], parts: list[dict], rows: OutcomeRows | None,
           *, chunks: int, stopwatch: Stopwatch | None = None) -> dict[str, Any]:
    merged = fairness.merge_fairness_counts(parts)
    result = fairness.fairness_from_counts(
        merged, thresholds=plan["thresholds"], min_group_size=plan["min_group_size"]
    )
    if rows is not None:
        result["outcomes"] = rows.analysis()
    if stopwatch is not None:  # one pass: reading vs the rest (no model, nothing predicted)
        result["timings"] = stopwatch.split("metrics")
    result.update(
        mode="decisions", prediction_column=plan["options"]["prediction_column"],
        outcome_column=plan["options"]["outcome_column"], score_column=plan["score_column"],
    )
    finish_setup = {
        "thresholds": plan["thresholds"], "source": plan["source"],
        "options": {"sensitive_columns": plan["options"]["sensitive_columns"],
                    "label_column": plan["options"]["outcome_column"]},
    }
    return compute._fairness_finish(
        job, result, finish_setup, merged.get("decision_rule", {}), chunks=chunks
    )


# --- the three steps a worker runs ---------------------------------------------------------


def start(job: Job, out_dir: Path, *, allow_chunks: bool) -> dict | list[dict]:
    plan = setup(job)
    with _readable(job) as path:
        check_columns(_header(path), plan)
        rows = job.dataset.row_count
        if not allow_chunks or rows is None or rows <= plan["chunk_rows"]:
            stopwatch = Stopwatch()
            parts, outcome_rows = stream(path, plan, stopwatch)
            return finish(job, plan, parts, outcome_rows, chunks=1, stopwatch=stopwatch)
    parquet, _, groups = inputs.parquet_chunks(
        job.dataset, job.data_sha256, chunk_rows=plan["chunk_rows"], columns=plan["columns"]
    )
    compute.write_json_once(out_dir / compute.PLAN_FILE, {
        "parquet": str(parquet), "row_groups": groups, "chunk_rows": plan["chunk_rows"],
        "columns": plan["columns"],
    })
    return [{"index": i} for i in range(groups)]


def chunk(job: Job, out_dir: Path, spec: dict[str, Any]) -> bool:
    target = out_dir / compute.CHUNK_DIR / f"{int(spec['index']):06d}.json"
    if outputs.exists(target):
        return False
    plan = setup(job)
    stored = compute._read_json(out_dir / compute.PLAN_FILE)
    frame = inputs.read_row_group(
        inputs.planned_chunks(job.dataset, job.data_sha256, stored), int(spec["index"])
    )
    return compute.write_json_once(target, count_frame(frame, plan, None))


def merge(job: Job, out_dir: Path, specs: list[dict[str, Any]]) -> dict[str, Any]:
    plan = setup(job)
    parts = [
        compute._read_json(out_dir / compute.CHUNK_DIR / f"{int(s['index']):06d}.json")
        for s in specs
    ]
    stored = compute._read_json(out_dir / compute.PLAN_FILE)
    # Counts first: a filter that removed every row fails here with its message.
    fairness.fairness_from_counts(fairness.merge_fairness_counts(parts), thresholds=None)
    rows = OutcomeRows()
    for frame in iter_table(Path(stored["parquet"]), columns=plan["columns"],
                            chunk_rows=plan["chunk_rows"]):
        count_frame(frame, plan, rows)
    return finish(job, plan, parts, rows, chunks=len(specs))
