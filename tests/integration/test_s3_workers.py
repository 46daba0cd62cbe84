"""Workers that share nothing with the web but the database, the broker and an S3 bucket (a real
moto server on loopback): each has its own empty ARTIFACT_ROOT (its cache) and JOB_OUTPUT_ROOT,
so every byte a job reads or writes goes through the bucket."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from common import artifact_store
from explainability.models import Job
from tests import s3server
from tests.integration import jobdata
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

s3_server, s3_bucket = s3server.s3_server, s3server.s3_bucket  # the fixtures, for this module


def _machine(tmp_path: Path, name: str, bucket) -> dict[str, str]:
    """The variables of a worker on its own machine: own empty folders, the shared bucket."""
    root = tmp_path / name
    for sub in ("artifacts", "job-output"):
        (root / sub).mkdir(parents=True)
    return {**bucket.env(), "ARTIFACT_ROOT": str(root / "artifacts"),
            "JOB_OUTPUT_ROOT": str(root / "job-output")}


def _start_job(client, mv, dv, params) -> int:
    url = f"/api/v1/models/{mv.model.name}/versions/{mv.version}/jobs/"
    response = client.post(url, {"kind": "shap", "dataset": dv.ref, "params": params}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _values(client, job_id: int) -> dict[str, np.ndarray]:
    body = client.get(f"/api/v1/jobs/{job_id}/").json()
    response = client.get(body["files"]["values"])
    assert response.status_code == 200, response.content
    with np.load(io.BytesIO(b"".join(response.streaming_content)), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _register(bucket, personas, *, n: int = 300):
    """A dataset file and a model artifact uploaded through the registry services (the web
    process's store is the bucket, as a pipeline's upload would be)."""
    eng = personas["engineer"]
    df = jobdata.credit(n=n)
    dv = jobdata.upload_dataset(eng, df)
    fitted = jobdata.fit("gbm", df)
    mv = jobdata.register(eng, fitted, training=dv)
    assert {mv.artifact.storage_path, dv.file.storage_path} <= set(bucket.keys())
    return df, fitted, dv, mv


def test_a_shap_job_on_a_worker_sharing_no_disk_with_the_web_reads_and_writes_the_bucket(
    s3_bucket, personas, client_for, start_worker, job_done, tmp_path
):
    import shap

    client = client_for("engineer")
    df, fitted, dv, mv = _register(s3_bucket, personas)
    env = _machine(tmp_path, "worker-a", s3_bucket)
    worker = start_worker(extra_env=env)

    job_id = _start_job(client, mv, dv, {"sample_size": 60, "background_size": 30, "seed": 3})
    job = job_done(job_id, workers=[worker])

    assert job.status == "succeeded", job.error_detail
    # The worker fetched both inputs into its own cache, keyed by sha256 ...
    cache = Path(env["ARTIFACT_ROOT"]) / "cache"
    assert sorted(p.name for p in cache.iterdir()) == sorted([mv.artifact_sha256, dv.sha256])
    # ... and the web's folder never held either (nothing is left in it): they came through
    # the bucket.
    web_root = artifact_store.artifact_root()
    assert not web_root.exists() or not [p for p in web_root.rglob("*") if p.is_file()]
    # The result files are in the bucket, the worker's working copy is gone, and the web
    # serves them from the bucket.
    assert f"job-output/{job.files_dir}/shap_values.npz" in s3_bucket.keys()
    assert not (Path(env["JOB_OUTPUT_ROOT"]) / job.files_dir).exists()
    stored = _values(client, job_id)
    direct = shap.TreeExplainer(fitted, data=stored["background"],
                                feature_perturbation="interventional")
    expected = direct(jobdata.rows_as_array(df)[stored["row_indices"]]).values
    np.testing.assert_allclose(stored["values"], expected, rtol=1e-6, atol=1e-8)
    assert client.get(f"/api/v1/jobs/{job_id}/files/shap_bar.svg").status_code == 200
    download = client.get(f"/api/v1/models/{mv.model.name}/versions/1/artifact/")
    assert b"".join(download.streaming_content) == s3_bucket.read(mv.artifact.storage_path)


def test_an_object_changed_in_the_bucket_fails_the_job_naming_the_sha256(
    s3_bucket, personas, client_for, start_worker, job_done, tmp_path
):
    client = client_for("engineer")
    df, _, dv, mv = _register(s3_bucket, personas, n=120)
    import skops.io

    s3_bucket.write(mv.artifact.storage_path, skops.io.dumps(jobdata.fit("logreg", df)))
    worker = start_worker(extra_env=_machine(tmp_path, "worker-a", s3_bucket))

    job = job_done(_start_job(client, mv, dv, {"sample_size": 20}), workers=[worker])

    assert job.status == "failed" and job.error_code == "unsafe_input", job.error_detail
    assert mv.artifact_sha256 in job.error_message
    assert "changed in storage after registration" in job.error_message
    assert job.result is None


def test_a_job_retries_while_the_storage_is_down_then_fails_with_the_storage_error(
    s3_bucket, personas, client_for, start_worker, job_done, tmp_path
):
    client = client_for("engineer")
    _, _, dv, mv = _register(s3_bucket, personas, n=120)
    # The worker's storage is a second server holding the same objects, which goes down after
    # the worker started (a worker does not start against storage it cannot reach).
    other = s3server.launch(tmp_path)
    try:
        copy = s3server.Bucket(name=s3_bucket.name, server=other)
        other.client().create_bucket(Bucket=copy.name)
        for key in s3_bucket.keys():
            copy.write(key, s3_bucket.read(key))
        worker = start_worker(extra_env=_machine(tmp_path, "worker-a", copy))
    finally:
        other.stop()

    job = job_done(_start_job(client, mv, dv, {"sample_size": 20}), workers=[worker])

    assert job.status == "failed" and job.error_code == "gave_up", job.error_detail
    assert job.attempts == job.max_attempts > 1
    assert "temporary error" in job.error_message
    assert "The artifact storage could not be read" in job.error_message
    assert other.url in job.error_message


# --- two workers, Redis -------------------------------------------------------------------


@pytest.fixture
def redis_broker(monkeypatch, tmp_path):
    """A Redis broker and result backend: the configured one when it is Redis (CI), else a
    private redis-server on a free loopback port for this test."""
    from config.celery import app

    # Read before the environment changes: Celery's conf.broker_url prefers CELERY_BROKER_URL.
    saved = (app.conf.broker_url, dict(app.conf.broker_transport_options or {}))
    url = os.environ.get("CELERY_BROKER_URL", "")
    proc = None
    if not url.startswith("redis://"):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port",
             str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )
        url = f"redis://127.0.0.1:{port}/0"
        import redis

        wait_for(lambda: _pings(redis, port), timeout=30, what="redis-server")
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        monkeypatch.setenv("CELERY_RESULT_BACKEND", url.rsplit("/", 1)[0] + "/1")
    app.conf.broker_url = url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    app._pool = None
    app.amqp._producer_pool = None
    yield url
    app.conf.broker_url, app.conf.broker_transport_options = saved[0], saved[1]
    app._pool = None
    app.amqp._producer_pool = None
    if proc is not None:
        proc.kill()
        proc.wait(timeout=30)


def _pings(redis, port: int) -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=port).ping())
    except redis.ConnectionError:
        return False


def _chunks_run_by(worker) -> int:
    return worker.log().count("explainability.tasks.run_chunk[") // 2  # received + succeeded


def test_a_chunked_shap_job_split_across_two_workers_equals_one_worker(
    redis_broker, s3_bucket, personas, client_for, start_worker, job_done, tmp_path
):
    client = client_for("engineer")
    _, _, dv, mv = _register(s3_bucket, personas, n=400)
    params = {"sample_size": 240, "background_size": 30, "chunk_rows": 20, "seed": 5}
    one = start_worker(name=f"solo-{uuid.uuid4().hex[:6]}@%h",
                       extra_env=_machine(tmp_path, "solo", s3_bucket))
    alone = job_done(_start_job(client, mv, dv, params), workers=[one])
    assert alone.status == "succeeded" and alone.result["chunks"] == 12, alone.error_detail
    one.stop()

    a = start_worker(name=f"a-{uuid.uuid4().hex[:6]}@%h", extra_env=_machine(tmp_path, "a", s3_bucket))
    b = start_worker(name=f"b-{uuid.uuid4().hex[:6]}@%h", extra_env=_machine(tmp_path, "b", s3_bucket))
    shared = job_done(_start_job(client, mv, dv, params), workers=[a, b])

    assert shared.status == "succeeded", shared.error_detail
    assert (shared.chunks_total, shared.chunks_done, shared.result["chunks"]) == (12, 12, 12)
    # Both workers computed chunks (each its share, from its own cache of the inputs).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _chunks_run_by(a) + _chunks_run_by(b) < 12:
        time.sleep(0.2)
    assert _chunks_run_by(a) >= 1 and _chunks_run_by(b) >= 1, (a.log(), b.log())
    assert _chunks_run_by(a) + _chunks_run_by(b) == 12
    for name in ("a", "b"):
        cache = tmp_path / name / "artifacts" / "cache"
        assert sorted(p.name for p in cache.iterdir()) == sorted([mv.artifact_sha256, dv.sha256])
    mine, theirs = _values(client, alone.pk), _values(client, shared.pk)
    assert mine.keys() == theirs.keys()
    for key in mine:
        np.testing.assert_array_equal(mine[key], theirs[key])
    assert Job.objects.get(pk=shared.pk).result["feature_importance"] == alone.result[
        "feature_importance"
    ]
