"""The work of each job kind, in three steps a worker (or the demo, in-process) can run:
`<kind>_start` (plan; return the result when small enough, else the chunk specs),
`<kind>_chunk` (one slice, written to a file in the attempt's folder) and `<kind>_merge` (the
chunk files into the result); `explainability.strategies` maps each kind to its three steps.

The rules: all computation is in `explainability.runners`; this module finds the inputs, passes
parameters and policy thresholds, and stamps the result with what it ran on (artifact and data
sha256). Chunk outputs are files under the attempt folder, written atomically and only once.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from explainability import inputs, outputs, policy
from explainability.choices import JobKind
from explainability.models import Job
from explainability.runners import shap_runner
from explainability.runners.errors import JobInputError
from explainability.runners.jsonable import to_jsonable
from explainability.runners.timing import Stopwatch

PLAN_FILE = "plan.json"
CHUNK_DIR = "chunks"


# --- helpers ------------------------------------------------------------------------------


def write_json_once(path: Path, payload: Any) -> bool:
    """Write `payload` to `path` unless it exists; True when this call created it. A temp file
    is linked into place, so readers never see half a file and a redelivered chunk is a no-op."""
    if outputs.shared() and outputs.exists(path):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, allow_nan=False)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        outputs.publish(path)  # other machines compute the next chunk or the merge
        return True
    finally:
        os.unlink(tmp)


def _read_json(path: Path) -> Any:
    with open(outputs.fetch(path)) as fh:
        return json.load(fh)


def _chunk_path(out_dir: Path, spec: dict[str, Any]) -> Path:
    return out_dir / CHUNK_DIR / f"{int(spec['index']):06d}.json"


def provenance(job: Job) -> dict[str, Any]:
    """What the result was computed on (the evidence gate compares artifact_sha256)."""
    return {
        "model_version": job.model_version.ref,
        "artifact_sha256": job.artifact_sha256 or None,
        "dataset": job.dataset.ref,
        "data_sha256": job.data_sha256,
        "reference_dataset": job.reference_dataset.ref if job.reference_dataset_id else None,
        "reference_sha256": job.reference_sha256 or None,
    }


def _finish(job: Job, result: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return to_jsonable({**result, **extra, "inputs": provenance(job), "params": job.params})


def _model(job: Job):
    return inputs.load_version_model(job.model_version, job.artifact_sha256)


# --- SHAP ---------------------------------------------------------------------------------


def _shap_options(params: dict[str, Any]) -> dict[str, Any]:
    keys = ("sample_size", "seed", "background_size", "background_method", "class_index",
            "feature_perturbation", "max_evals")
    return {k: params[k] for k in keys if params.get(k) is not None}


def _shap_frame(job: Job):
    model = _model(job)
    frame = inputs.read_dataset(job.dataset, job.data_sha256)
    return model, frame


def shap_start(job: Job, out_dir: Path, *, allow_chunks: bool) -> dict | list[dict]:
    model, frame = _shap_frame(job)
    plan = shap_runner.prepare_shap(model, frame, **_shap_options(job.params))
    chunk_rows = int(job.params.get("chunk_rows") or settings.JOB_SHAP_CHUNK_ROWS)
    bounds = shap_runner.chunk_bounds(plan, chunk_rows)
    if not allow_chunks or len(bounds) <= 1:
        chunk = shap_runner.compute_shap_chunk(model, frame, plan, 0, plan.rows_explained)
        return _shap_result(job, plan, [chunk], frame, out_dir, chunks=1)
    write_json_once(out_dir / PLAN_FILE, plan.to_dict())
    return [{"index": i, "start": a, "stop": b} for i, (a, b) in enumerate(bounds)]


def shap_chunk(job: Job, out_dir: Path, spec: dict[str, Any]) -> bool:
    target = _chunk_path(out_dir, spec)
    if outputs.exists(target):
        return False
    model, frame = _shap_frame(job)
    plan = _read_json(out_dir / PLAN_FILE)
    chunk = shap_runner.compute_shap_chunk(model, frame, plan, spec["start"], spec["stop"])
    return write_json_once(target, chunk.to_dict())


def shap_merge(job: Job, out_dir: Path, specs: list[dict[str, Any]]) -> dict[str, Any]:
    _, frame = _shap_frame(job)
    plan = shap_runner.ShapPlan.from_dict(_read_json(out_dir / PLAN_FILE))
    chunks = [_read_json(_chunk_path(out_dir, s)) for s in specs]
    return _shap_result(job, plan, chunks, frame, out_dir, chunks=len(specs))


def _shap_result(job, plan, parts, frame, out_dir: Path, *, chunks: int) -> dict[str, Any]:
    result = shap_runner.finalize_shap(plan, parts, frame, str(out_dir))
    return _finish(job, result, chunks=chunks)


# --- fairness -----------------------------------------------------------------------------


def _fairness_setup(job: Job) -> dict[str, Any]:
    """Everything but the rows: columns, decision rule and thresholds (policy, tightened)."""
    p = job.params
    sensitive = p.get("sensitive_attributes") or list(job.dataset.dataset.sensitive_attributes)
    if not sensitive:
        raise JobInputError("No sensitive attributes: the dataset declares none and params list none")
    label = p["label_column"]
    thresholds, source = policy.effective_fairness(job.model_version.model, p.get("thresholds"))
    model = _model(job)
    features = list(model.feature_names or [])
    if not features:
        known = inputs.dataset_columns(job.dataset)
        features = [c for c in known if c not in {label, *sensitive}]
    if not features:
        raise JobInputError(
            "The model's feature columns are unknown: it has no feature names and the version "
            "has no signature; register the version with a signature"
        )
    options = {
        "features": features, "label_column": label, "sensitive_columns": sensitive,
        "threshold": float(p.get("threshold", 0.5)), "positive_label": p.get("positive_label", 1),
        "filters": p.get("filters"),
    }
    return {"model": model, "options": options, "thresholds": thresholds, "source": source}


def _fairness_columns(options: dict[str, Any]) -> list[str]:
    from explainability.runners.filters import parse_filters

    filter_columns = [f.column for f in parse_filters(options.get("filters"))]
    wanted = [*options["features"], options["label_column"], *options["sensitive_columns"],
              *filter_columns]
    return list(dict.fromkeys(wanted))


def _fairness_finish(job: Job, result: dict, setup: dict, decision_rule: dict, chunks: int) -> dict:
    checks = []
    for section in ("attributes", "intersections"):
        for scope, entry in (result.get(section) or {}).items():
            for metric, verdict in entry["metrics"].items():
                if verdict.get("threshold") is not None:
                    checks.append({"scope": scope, "metric": metric, "value": verdict["value"],
                                   "threshold": verdict["threshold"], "passed": verdict["passed"]})
    metrics: dict[str, dict[str, Any]] = {}
    for check in checks:
        entry = metrics.setdefault(
            check["metric"], {"threshold": check["threshold"], "passed": True, "failed_in": []}
        )
        if not check["passed"]:
            entry["passed"] = False
            entry["failed_in"].append(check["scope"])
    small = [
        {"scope": scope, "group": g["group"], "count": g["count"]}
        for section in ("attributes", "intersections")
        for scope, entry in (result.get(section) or {}).items()
        for g in entry["groups"] if g.get("small_group")
    ]
    return _finish(
        job, result, checks=checks, metrics=metrics, small_groups=small,
        thresholds={"values": setup["thresholds"], **setup["source"]},
        decision_rule=decision_rule, chunks=chunks,
        sensitive_attributes=setup["options"]["sensitive_columns"],
        label_column=setup["options"]["label_column"],
    )


def _row_count(job: Job) -> int | None:
    return job.dataset.row_count


def fairness_start(job: Job, out_dir: Path, *, allow_chunks: bool) -> dict | list[dict]:
    from explainability.runners import fairness

    setup = _fairness_setup(job)
    chunk_rows = int(job.params.get("chunk_rows") or settings.JOB_FAIRNESS_CHUNK_ROWS)
    rows = _row_count(job)
    if not allow_chunks or rows is None or rows <= chunk_rows:
        stopwatch = Stopwatch()
        with stopwatch.section("read"):  # only the columns the job uses
            frame = inputs.read_dataset(
                job.dataset, job.data_sha256, columns=_fairness_columns(setup["options"])
            )
        outcomes = fairness.model_outcomes(
            setup["model"], frame, stopwatch=stopwatch, **setup["options"]
        )
        result = fairness.fairness_from_counts(
            outcomes.counts(), thresholds=setup["thresholds"],
            min_group_size=int(job.params.get("min_group_size") or 30),
        )
        result["outcomes"] = outcomes.analysis()
        result["timings"] = stopwatch.split("metrics")
        return _fairness_finish(job, result, setup, outcomes.decision_rule, chunks=1)
    path, _, groups = inputs.parquet_chunks(
        job.dataset, job.data_sha256, chunk_rows=chunk_rows,
        columns=_fairness_columns(setup["options"]),
    )
    write_json_once(out_dir / PLAN_FILE, {
        "parquet": str(path), "row_groups": groups, "chunk_rows": chunk_rows,
        "columns": _fairness_columns(setup["options"]),
    })
    return [{"index": i} for i in range(groups)]


def fairness_chunk(job: Job, out_dir: Path, spec: dict[str, Any]) -> bool:
    from explainability.runners import fairness

    target = _chunk_path(out_dir, spec)
    if outputs.exists(target):
        return False
    setup = _fairness_setup(job)
    plan = _read_json(out_dir / PLAN_FILE)
    frame = inputs.read_row_group(
        inputs.planned_chunks(job.dataset, job.data_sha256, plan), int(spec["index"])
    )
    counts = fairness.model_fairness_counts(setup["model"], frame, **setup["options"])
    return write_json_once(target, counts)


def fairness_merge(job: Job, out_dir: Path, specs: list[dict[str, Any]]) -> dict[str, Any]:
    from explainability.runners import fairness

    setup = _fairness_setup(job)
    parts = [_read_json(_chunk_path(out_dir, s)) for s in specs]
    merged = fairness.merge_fairness_counts(parts)
    result = fairness.fairness_from_counts(
        merged, thresholds=setup["thresholds"],
        min_group_size=int(job.params.get("min_group_size") or 30),
    )
    result["warnings"] = list(result.get("warnings", [])) + [
        "Computed in chunks: outcome analysis (AUC, calibration) needs every row at once and "
        "is not included"
    ]
    return _fairness_finish(job, result, setup, merged.get("decision_rule", {}), chunks=len(specs))


# --- drift --------------------------------------------------------------------------------


def _shap_importance_on(job: Job, dataset_id: int) -> list[dict] | None:
    found = (
        Job.objects.filter(
            model_version_id=job.model_version_id, kind=JobKind.SHAP, status="succeeded",
            dataset_id=dataset_id,
        )
        .order_by("-finished_at", "-id")
        .values_list("result", flat=True)
        .first()
    )
    return (found or {}).get("feature_importance") if found else None


def drift_start(job: Job, out_dir: Path) -> dict[str, Any]:
    from explainability import reference_profiles
    from explainability.runners import drift

    p = job.params
    stopwatch = Stopwatch()
    features = p.get("features") or inputs.signature_features(job.model_version) or None

    def read_reference():
        return inputs.read_dataset(job.reference_dataset, job.reference_sha256, columns=features)

    # The reference's profile (its numeric columns sorted) is stored once for all workers and
    # kept per worker process: the checks of one model against its reference (scheduled monthly,
    # or per new batch) sort only the current data, on any worker.
    origin = {"reference_profile": "kept"}

    def profile_of_reference():
        profile, origin["reference_profile"] = reference_profiles.reference_profile(
            dataset_version=job.reference_dataset, data_sha256=job.reference_sha256,
            features=features, read=read_reference, job=job, stopwatch=stopwatch,
        )
        return profile

    profile = inputs.remember(
        ("drift-reference", job.reference_sha256, tuple(features or ())), profile_of_reference
    )
    with stopwatch.section("read_current"):
        current = inputs.read_dataset(job.dataset, job.data_sha256, columns=features)
    thresholds, source = policy.drift_thresholds(job.model_version.model, p.get("thresholds"))
    ref_importance = cur_importance = None
    notes = []
    if p.get("shap_importance", True):
        ref_importance = _shap_importance_on(job, job.reference_dataset_id)
        cur_importance = _shap_importance_on(job, job.dataset_id)
        if ref_importance is None or cur_importance is None:
            missing = [ref for ref, imp in ((job.reference_dataset.ref, ref_importance),
                                            (job.dataset.ref, cur_importance)) if imp is None]
            notes.append(
                "SHAP-importance drift needs a succeeded SHAP job of this version on both "
                f"datasets; none on {', '.join(missing)}"
            )
            ref_importance = cur_importance = None
    with stopwatch.section("compare"):
        result = drift.run_drift(
            profile, current, features=features, categorical=p.get("categorical"),
            psi_bins=int(p.get("bins") or 10), thresholds=thresholds,
            reference_importance=ref_importance, current_importance=cur_importance,
        )
    return _finish(
        job, result, notes=notes, threshold_source=source, chunks=1,
        reference_profile=origin["reference_profile"], timings=stopwatch.split("rest"),
    )
