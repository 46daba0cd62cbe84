"""Jobs run by a real Celery worker process on real small models trained here.

Each result is compared with the library called directly on the same model and rows: shap for
SHAP values, fairlearn for fairness metrics; drift must find a shifted feature and only that.
"""

from __future__ import annotations

import numpy as np
import pytest

from explainability.models import Job
from governance.models import AuditEvent
from tests.integration import jobdata
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def _start(client, mv, payload) -> int:
    url = f"/api/v1/models/{mv.model.name}/versions/{mv.version}/jobs/"
    response = client.post(url, payload, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    return response.json()["id"]


def _npz(client, job_id) -> dict:
    import io

    body = client.get(f"/api/v1/jobs/{job_id}/").json()
    response = client.get(body["files"]["values"])
    assert response.status_code == 200
    with np.load(io.BytesIO(b"".join(response.streaming_content)), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _events(job_id: int, action: str) -> int:
    return AuditEvent.objects.filter(
        object_type="explainability.job", object_id=str(job_id), action=action
    ).count()


@pytest.mark.parametrize("kind", ["gbm", "lgbm"])
def test_shap_job_on_a_real_worker_equals_shap_called_directly(
    kind, personas, client_for, start_worker, job_done
):
    import shap

    eng = personas["engineer"]
    df = jobdata.credit(n=400)
    dv = jobdata.upload_dataset(eng, df)
    fitted = jobdata.fit(kind, df)
    mv = jobdata.register(eng, fitted, training=dv)
    worker = start_worker()
    client = client_for("engineer")

    # Interventional SHAP against a background, as compared below (the default for GBM trees
    # is now the frameworks' exact path-dependent values, tested in tests/explainability).
    job_id = _start(client, mv, {"kind": "shap", "dataset": dv.ref,
                                 "params": {"sample_size": 60, "background_size": 40, "seed": 3,
                                            "feature_perturbation": "interventional"}})
    job = job_done(job_id, workers=[worker])

    assert job.status == "succeeded", job.error_detail
    assert job.artifact_sha256 == mv.artifact_sha256 and job.data_sha256 == dv.sha256
    assert job.result["explainer"] == "TreeExplainer"
    stored = _npz(client, job_id)
    rows = jobdata.rows_as_array(df)[stored["row_indices"]]
    direct = shap.TreeExplainer(fitted, data=stored["background"], feature_perturbation="interventional")
    expected = direct(rows).values
    expected = expected[:, :, 1] if expected.ndim == 3 else expected
    np.testing.assert_allclose(stored["values"], expected, rtol=1e-6, atol=1e-8)
    ranked = [f["feature"] for f in job.result["feature_importance"]]
    assert ranked[0] == jobdata.FEATURES[int(np.abs(expected).mean(axis=0).argmax())]
    assert client.get(f"/api/v1/jobs/{job_id}/files/shap_bar.svg").status_code == 200
    assert _events(job_id, "explainability.job.succeeded") == 1


def test_chunked_shap_job_splits_into_a_chord_and_merges_to_the_same_values(
    personas, client_for, start_worker, job_done
):
    import shap

    eng = personas["engineer"]
    df = jobdata.credit(n=300)
    dv = jobdata.upload_dataset(eng, df)
    fitted = jobdata.fit("gbm", df)
    mv = jobdata.register(eng, fitted, training=dv)
    worker = start_worker()
    client = client_for("engineer")

    job_id = _start(client, mv, {"kind": "shap", "dataset": dv.ref, "params": {
        "sample_size": 90, "background_size": 30, "chunk_rows": 30}})
    job = job_done(job_id, workers=[worker])

    assert job.status == "succeeded", job.error_detail
    assert (job.chunks_total, job.chunks_done, job.progress) == (3, 3, 100)
    assert job.result["chunks"] == 3
    stored = _npz(client, job_id)
    direct = shap.TreeExplainer(fitted, data=stored["background"])
    expected = direct(jobdata.rows_as_array(df)[stored["row_indices"]]).values
    np.testing.assert_allclose(stored["values"], expected, rtol=1e-6, atol=1e-8)


def test_the_chunks_of_one_job_run_side_by_side_on_two_free_workers_each_loading_once(
    personas, client_for, start_worker, job_done
):
    """Two idle workers share one job's chord: both compute chunks, at the same time, and each
    worker process loads the model and the data at most once for all its chunks; the result
    records who ran which chunk, when, and what it had to load."""
    from collections import Counter
    from datetime import datetime

    eng = personas["engineer"]
    df = jobdata.credit(n=300)
    dv = jobdata.upload_dataset(eng, df)
    # A Pipeline is explained by the permutation explainer: chunks long enough to overlap.
    mv = jobdata.register(eng, jobdata.fit("pipeline", df), training=dv)
    a, b = start_worker(), start_worker()
    client = client_for("engineer")

    job_id = _start(client, mv, {"kind": "shap", "dataset": dv.ref, "params": {
        "sample_size": 24, "background_size": 50, "chunk_rows": 4}})
    job = job_done(job_id, timeout=300, workers=[a, b])

    assert job.status == "succeeded", job.error_detail
    runs = job.result["chunk_runs"]
    assert [r["index"] for r in runs] == list(range(6)) and job.result["chunks"] == 6
    assert {r["worker"].split("@")[0] for r in runs} == {
        w.name.split("@")[0] for w in (a, b)}, runs
    spans = [(datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"]),
              r["worker"]) for r in runs]
    assert all(start < end for start, end, _ in spans)
    assert any(s1 < e2 and s2 < e1 and w1 != w2
               for s1, e1, w1 in spans for s2, e2, w2 in spans), runs
    for process in {(r["worker"], r["pid"]) for r in runs}:
        loaded = Counter(kind for r in runs if (r["worker"], r["pid"]) == process
                         for kind in r["loaded"])
        assert all(count == 1 for count in loaded.values()), (process, runs)
    # The worker that planned the job had loaded both already: only the other one's first
    # chunk loaded them.
    assert [r["loaded"] for r in runs if r["loaded"]] == [["model", "frame"]], runs
    assert all(r["cpu_seconds"] >= 0 and r["seconds"] > 0 for r in runs)
    assert len(_npz(client, job_id)["values"]) == 24


def test_a_worker_preloading_the_job_code_forks_its_pool_after_it_and_runs_chunked_jobs(
    personas, client_for, start_worker, job_done
):
    """WORKER_PRELOAD_JOBS=1: shap, scikit-learn, skops and matplotlib are imported before the
    pool forks; the forked process runs a chunked SHAP job to the same values as shap."""
    import shap

    eng = personas["engineer"]
    df = jobdata.credit(n=200)
    dv = jobdata.upload_dataset(eng, df)
    fitted = jobdata.fit("gbm", df)
    mv = jobdata.register(eng, fitted, training=dv)
    worker = start_worker(extra_env={"WORKER_PRELOAD_JOBS": "1"})
    assert "preloaded the job code: shap, skops.io" in worker.log()
    client = client_for("engineer")

    job = job_done(_start(client, mv, {"kind": "shap", "dataset": dv.ref, "params": {
        "sample_size": 40, "background_size": 20, "chunk_rows": 20,
        "feature_perturbation": "interventional"}}), workers=[worker])

    assert job.status == "succeeded", job.error_detail
    assert job.result["chunks"] == 2 and len(job.result["chunk_runs"]) == 2
    stored = _npz(client, job.pk)
    direct = shap.TreeExplainer(fitted, data=stored["background"],
                                feature_perturbation="interventional")
    expected = direct(jobdata.rows_as_array(df)[stored["row_indices"]]).values
    np.testing.assert_allclose(stored["values"], expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("chunk_rows", [None, 150])
def test_fairness_job_equals_fairlearn_called_directly(
    chunk_rows, personas, client_for, start_worker, job_done
):
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        selection_rate,
        true_positive_rate,
    )

    eng = personas["engineer"]
    df = jobdata.credit(n=500)
    dv = jobdata.upload_dataset(eng, df)
    fitted = jobdata.fit("logreg", df)
    mv = jobdata.register(eng, fitted, training=dv)
    worker = start_worker()
    client = client_for("engineer")
    params = {"label_column": "default", "threshold": 0.3}
    if chunk_rows:
        params["chunk_rows"] = chunk_rows

    job_id = _start(client, mv, {"kind": "fairness", "dataset": dv.ref, "params": params})
    job = job_done(job_id, workers=[worker])

    assert job.status == "succeeded", job.error_detail
    y_true = df["default"].to_numpy()
    y_pred = (fitted.predict_proba(jobdata.rows_as_array(df))[:, 1] >= 0.3).astype(int)
    sex = df["sex"]
    result = job.result["attributes"]["sex"]
    metrics = {k: v["value"] for k, v in result["metrics"].items()}
    assert metrics["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, sensitive_features=sex))
    assert metrics["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(y_true, y_pred, sensitive_features=sex))
    assert metrics["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y_true, y_pred, sensitive_features=sex))
    frame = MetricFrame(metrics={"sr": selection_rate, "tpr": true_positive_rate},
                        y_true=y_true, y_pred=y_pred, sensitive_features=sex)
    for group in result["groups"]:
        assert group["selection_rate"] == pytest.approx(frame.by_group.loc[group["group"], "sr"])
        assert group["true_positive_rate"] == pytest.approx(frame.by_group.loc[group["group"], "tpr"])
    both = MetricFrame(metrics=selection_rate, y_true=y_true, y_pred=y_pred,
                       sensitive_features=df[["sex", "age_band"]])
    cell = job.result["intersections"]["sex & age_band"]
    assert cell["metrics"]["demographic_parity_difference"]["value"] == pytest.approx(
        both.difference())
    assert job.result["thresholds"]["source"] == "default"
    assert isinstance(job.result["passed"], bool)
    assert job.result["chunks"] == (4 if chunk_rows else 1)


def test_drift_job_flags_the_shifted_feature_and_not_the_others(
    personas, client_for, start_worker, job_done
):
    eng = personas["engineer"]
    reference = jobdata.credit(n=800, seed=1)
    current = jobdata.credit(n=800, seed=2)
    current["income"] = current["income"] * 1.8  # only income moves
    ref_v = jobdata.upload_dataset(eng, reference)
    cur_v = jobdata.upload_dataset(eng, current)
    mv = jobdata.register(eng, jobdata.fit("logreg", reference), training=ref_v)
    worker = start_worker()
    client = client_for("engineer")

    job_id = _start(client, mv, {"kind": "drift", "dataset": cur_v.ref})
    job = job_done(job_id, workers=[worker])

    assert job.status == "succeeded", job.error_detail
    assert job.reference_dataset_id == ref_v.pk  # default: the training data from lineage
    verdicts = {f["feature"]: f["verdict"] for f in job.result["features"]}
    assert verdicts["income"] == "drift"
    assert verdicts["debt_ratio"] == "stable" and verdicts["age"] == "stable"
    assert job.result["verdict"] == "drift"


def test_a_new_worker_process_compares_against_the_profile_another_worker_stored(
    personas, client_for, start_worker, job_done, settings
):
    """The reference is sorted once, by the first worker; a worker started later reads its
    stored profile back (same result); a damaged profile file is rebuilt by the next one."""
    from explainability.models import DriftReferenceProfile

    eng = personas["engineer"]
    reference = jobdata.credit(n=800, seed=1)
    current = jobdata.credit(n=800, seed=2)
    current["income"] = current["income"] * 1.8
    ref_v = jobdata.upload_dataset(eng, reference)
    cur_v = jobdata.upload_dataset(eng, current)
    mv = jobdata.register(eng, jobdata.fit("logreg", reference), training=ref_v)
    client = client_for("engineer")
    results = []
    for _ in range(3):
        worker = start_worker()
        job = job_done(_start(client, mv, {"kind": "drift", "dataset": cur_v.ref}),
                       workers=[worker])
        worker.stop()
        assert job.status == "succeeded", job.error_detail
        results.append(job.result)
        if len(results) == 2:  # damage the stored file before the third worker reads it
            path = settings.ARTIFACT_ROOT / DriftReferenceProfile.objects.get().storage_key
            damaged = bytearray(path.read_bytes())
            damaged[-100] ^= 0xFF
            path.write_bytes(bytes(damaged))

    assert [r["reference_profile"] for r in results] == ["built", "stored", "built"]
    assert results[0]["features"] == results[1]["features"] == results[2]["features"]
    assert AuditEvent.objects.filter(action="explainability.drift_profile.replaced").count() == 1


def test_bad_input_fails_the_job_naming_the_column_and_the_worker_stays_healthy(
    personas, client_for, start_worker, job_done
):
    eng = personas["engineer"]
    df = jobdata.credit(n=200)
    good = jobdata.upload_dataset(eng, df)
    bad = jobdata.upload_dataset(eng, df.drop(columns=["debt_ratio"]))
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=good)
    worker = start_worker()
    client = client_for("engineer")

    failed = job_done(_start(client, mv, {"kind": "shap", "dataset": bad.ref,
                                          "params": {"sample_size": 10}}), workers=[worker])
    assert failed.status == "failed"
    assert "debt_ratio" in failed.error_message and failed.error_code == "bad_input"
    assert failed.result is None
    assert not (failed.output_root).exists() or not any(failed.output_root.iterdir())

    ok = job_done(_start(client, mv, {"kind": "shap", "dataset": good.ref,
                                      "params": {"sample_size": 10}}), workers=[worker])
    assert ok.status == "succeeded"
    assert worker.proc.poll() is None


def test_a_worker_killed_mid_job_leads_to_the_job_finishing_exactly_once(
    personas, client_for, start_worker, job_done
):
    eng = personas["engineer"]
    df = jobdata.credit(n=300)
    dv = jobdata.upload_dataset(eng, df)
    mv = jobdata.register(eng, jobdata.fit("pipeline", df), training=dv)
    name = "itest-sigkill@%h"
    first = start_worker(name)
    client = client_for("engineer")

    # A Pipeline is explained by the permutation explainer: slow enough to kill mid-way.
    job_id = _start(client, mv, {"kind": "shap", "dataset": dv.ref,
                                 "params": {"sample_size": 12, "background_size": 50}})
    wait_for(lambda: Job.objects.get(pk=job_id).status == "running", timeout=120,
             what="the job to start")
    first.kill()
    assert Job.objects.get(pk=job_id).status == "running"  # the row still says a worker has it

    second = start_worker(name)
    job = job_done(job_id, timeout=240, workers=[first, second])

    assert job.status == "succeeded", job.error_detail
    assert job.attempts == 2
    assert _events(job_id, "explainability.job.started") == 2
    assert _events(job_id, "explainability.job.succeeded") == 1
    # The dead attempt's folder is removed after the success commits (on commit, in the worker).
    wait_for(lambda: sorted(p.name for p in job.output_root.iterdir()) == ["attempt-2"],
             timeout=30, what="only the succeeded attempt's folder to remain")


def test_a_chunked_job_of_a_killed_worker_is_finished_by_a_differently_named_one_within_a_minute(
    personas, client_for, start_worker, job_done
):
    """Containers change hostnames: the replacement cannot release jobs by its own name. The
    silent chord is found by beat's sweep and its missing chunks re-sent in the same attempt
    (before, the dispatched chord held a lease as long as the hard time limit, ~31 minutes)."""
    eng = personas["engineer"]
    df = jobdata.credit(n=300)
    dv = jobdata.upload_dataset(eng, df)
    mv = jobdata.register(eng, jobdata.fit("pipeline", df), training=dv)
    first = start_worker("itest-old-container@%h")
    client = client_for("engineer")

    # A Pipeline is explained by the permutation explainer: each chunk is slow enough to kill.
    job_id = _start(client, mv, {"kind": "shap", "dataset": dv.ref, "params": {
        "sample_size": 16, "background_size": 50, "chunk_rows": 4}})
    # This job's chord is out (the row says so) and the worker took a chunk: a chunk message an
    # earlier test's killed worker left unacknowledged may reach this worker too, so the log
    # line alone does not say it is this job's.
    wait_for(lambda: "explainability.tasks.run_chunk[" in first.log()
             and Job.objects.filter(pk=job_id, status="running", chunks_total=4).exists(),
             timeout=180, what="the first chunk to start")
    first.kill()  # the chunk it was computing is lost with it (its message was taken)
    killed = Job.objects.get(pk=job_id)
    assert killed.status == "running" and (killed.chunks_done, killed.chunks_total) == (0, 4)

    second = start_worker("itest-new-container@%h", beat=True)
    job = job_done(job_id, timeout=300, workers=[first, second])

    assert job.status == "succeeded", job.error_detail
    assert (job.attempts, job.chunks_done, job.chunks_total, job.result["chunks"]) == (1, 4, 4, 4)
    assert _events(job_id, "explainability.job.started") == 1
    assert _events(job_id, "explainability.job.succeeded") == 1
    assert len(_npz(client, job_id)["values"]) == 16
    assert sorted(p.name for p in job.output_root.iterdir()) == ["attempt-1"]


def test_a_redelivered_message_never_runs_a_finished_job_again(
    personas, client_for, start_worker, job_done
):
    from explainability import tasks

    eng = personas["engineer"]
    df = jobdata.credit(n=200)
    dv = jobdata.upload_dataset(eng, df)
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=dv)
    worker = start_worker()
    client = client_for("engineer")
    job = job_done(_start(client, mv, {"kind": "shap", "dataset": dv.ref,
                                       "params": {"sample_size": 10}}), workers=[worker])
    result = job.result

    outcome = tasks.run_job.delay(job.pk)  # the same message again
    wait_for(lambda: outcome.ready(), timeout=60, what="the duplicate message to be handled")

    again = Job.objects.get(pk=job.pk)
    assert outcome.result == "not claimable"
    assert (again.attempts, again.result) == (1, result)
    assert _events(job.pk, "explainability.job.started") == 1

