"""Artifacts and data files on S3-compatible object storage (a real moto server on loopback):
uploads land in the bucket under their sha256, are never overwritten, download back intact;
storage that is down answers 503 and writes nothing; a missing bucket stops start-up."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time

import pytest
import skops.io
from django.conf import settings

from common import artifact_store
from governance.models import AuditEvent
from registry.models import Artifact, DatasetVersion, ModelVersion
from tests import factories, s3server
from tests.integration import jobdata
from tests.s3server import Bucket, dead_endpoint

s3_server, s3_bucket = s3server.s3_server, s3server.s3_bucket  # the fixtures, for this module


@pytest.fixture
def model_bytes():
    return skops.io.dumps(jobdata.fit("logreg", jobdata.credit(n=120)))


def _post_version(client, name: str, data: bytes, **fields):
    upload = io.BytesIO(data)
    upload.name = "model.skops"
    return client.post(
        f"/api/v1/models/{name}/versions/", {"artifact": upload, **fields}, format="multipart"
    )


def _staging_files() -> list[str]:
    tmp = artifact_store.artifact_root() / "tmp"
    return sorted(os.listdir(tmp)) if tmp.exists() else []


def test_an_uploaded_artifact_is_stored_in_the_bucket_under_its_sha256_and_downloads_intact(
    s3_bucket, personas, client_for, model_bytes
):
    model = factories.model(personas["engineer"], name="credit-pd")
    client = client_for("engineer")
    sha = hashlib.sha256(model_bytes).hexdigest()

    response = _post_version(client, model.name, model_bytes)

    assert response.status_code == 201, response.content
    assert response.json()["artifact_sha256"] == sha
    assert s3_bucket.keys() == [f"{sha[:2]}/{sha}"]
    assert s3_bucket.read(f"{sha[:2]}/{sha}") == model_bytes
    # Nothing of the artifact stays on the web machine's disk: the staging file is gone.
    assert _staging_files() == []
    assert not (artifact_store.artifact_root() / sha[:2]).exists()

    download = client.get(f"/api/v1/models/{model.name}/versions/1/artifact/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == model_bytes
    assert download["X-Content-SHA256"] == sha
    assert "model.skops" in download["Content-Disposition"]


def test_a_dataset_file_is_stored_in_the_bucket_and_downloads_intact(s3_bucket, personas, client_for):
    dataset = factories.dataset(personas["engineer"], name="applications")
    csv = jobdata.credit(n=50).to_csv(index=False).encode()
    client = client_for("engineer")

    upload = io.BytesIO(csv)
    upload.name = "applications.csv"
    response = client.post(
        f"/api/v1/datasets/{dataset.name}/versions/", {"file": upload}, format="multipart"
    )

    assert response.status_code == 201, response.content
    sha = hashlib.sha256(csv).hexdigest()
    assert response.json()["sha256"] == sha and response.json()["row_count"] == 50
    assert s3_bucket.read(f"{sha[:2]}/{sha}") == csv
    download = client.get(f"/api/v1/datasets/{dataset.name}/versions/1/file/")
    assert b"".join(download.streaming_content) == csv


def test_the_same_bytes_uploaded_again_never_overwrite_the_stored_object(
    s3_bucket, personas, client_for, model_bytes
):
    model = factories.model(personas["engineer"], name="credit-pd")
    client = client_for("engineer")
    sha = hashlib.sha256(model_bytes).hexdigest()
    key = f"{sha[:2]}/{sha}"
    assert _post_version(client, model.name, model_bytes).status_code == 201
    first = s3_bucket.server.client().head_object(Bucket=s3_bucket.name, Key=key)["LastModified"]
    time.sleep(1.1)  # S3 stamps LastModified to the second

    assert _post_version(client, model.name, model_bytes).status_code == 201

    again = s3_bucket.server.client().head_object(Bucket=s3_bucket.name, Key=key)["LastModified"]
    assert again == first
    assert s3_bucket.keys() == [key]
    assert Artifact.objects.count() == 1 and ModelVersion.objects.count() == 2


def test_registration_answers_503_and_writes_nothing_when_the_storage_is_down(
    s3_bucket, personas, client_for, model_bytes, settings
):
    model = factories.model(personas["engineer"], name="credit-pd")
    client = client_for("engineer")
    settings.ARTIFACT_S3 = {**s3_bucket.settings(), "endpoint_url": dead_endpoint()}
    events = AuditEvent.objects.count()

    response = _post_version(client, model.name, model_bytes)

    assert response.status_code == 503, response.content
    body = response.json()
    assert body["code"] == "storage_unavailable"
    assert "could not store the file" in body["detail"] and "nothing was stored" in body["detail"]
    assert ModelVersion.objects.count() == 0 and Artifact.objects.count() == 0
    assert AuditEvent.objects.count() == events
    assert _staging_files() == []
    assert s3_bucket.keys() == []


def test_dataset_registration_answers_503_when_the_storage_is_down(
    s3_bucket, personas, client_for, settings
):
    dataset = factories.dataset(personas["engineer"], name="applications")
    settings.ARTIFACT_S3 = {**s3_bucket.settings(), "endpoint_url": dead_endpoint()}
    upload = io.BytesIO(b"a,b\n1,2\n")
    upload.name = "d.csv"

    response = client_for("engineer").post(
        f"/api/v1/datasets/{dataset.name}/versions/", {"file": upload}, format="multipart"
    )

    assert response.status_code == 503 and response.json()["code"] == "storage_unavailable"
    assert DatasetVersion.objects.count() == 0 and _staging_files() == []


def test_a_worker_copy_is_verified_by_sha256_and_a_changed_object_is_refused(s3_bucket, tmp_path):
    data = b"feature,label\n1,0\n" * 100
    sha = hashlib.sha256(data).hexdigest()
    key = f"{sha[:2]}/{sha}"
    s3_bucket.write(key, data)

    path = artifact_store.local_copy(key, sha, what="dataset d@1")
    assert path.read_bytes() == data
    assert path.parent == artifact_store.artifact_root() / "cache"

    s3_bucket.write(key, data.replace(b"1,0", b"1,1", 1))
    path.unlink()  # a machine that has not cached it yet
    with pytest.raises(artifact_store.StoredFileCorrupt) as refused:
        artifact_store.local_copy(key, sha, what="dataset d@1")
    assert sha in str(refused.value) and "changed in storage" in str(refused.value)
    assert not (artifact_store.artifact_root() / "cache" / sha).exists()


def test_the_worker_cache_stays_within_its_bound(s3_bucket, settings):
    settings.ARTIFACT_CACHE_MAX_BYTES = 2500
    shas = []
    for i in range(4):
        data = bytes([i]) * 1000
        sha = hashlib.sha256(data).hexdigest()
        s3_bucket.write(f"{sha[:2]}/{sha}", data)
        shas.append(sha)
        artifact_store.local_copy(f"{sha[:2]}/{sha}", sha, what=f"file {i}")
        time.sleep(0.01)

    cached = sorted(p.name for p in (artifact_store.artifact_root() / "cache").iterdir())
    assert len(cached) == 2 and shas[-1] in cached  # the most recent entries, within 2500 bytes


def test_a_missing_object_is_reported_as_missing_not_as_corrupt(s3_bucket):
    with pytest.raises(artifact_store.StoredFileMissing):
        artifact_store.local_copy("ab/" + "ab" * 32, "ab" * 32, what="artifact of m@1")


def _start_up(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True,
        timeout=120, env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
    )


def test_a_bucket_that_does_not_exist_stops_start_up_with_a_clear_error(s3_server, tmp_path):
    env = {**Bucket(name="gh-no-such-bucket", server=s3_server).env(),
           "GATEHOUSE_VAR_DIR": str(tmp_path), "ARTIFACT_ROOT": str(tmp_path / "artifacts")}

    check = _start_up(env, "import django, sys; from django.core.management import "
                           "execute_from_command_line as run; run(['manage.py', 'check'])")
    web = _start_up(env, "import config.wsgi")
    # A worker that became ready would exit 0 at once (never taking a job).
    worker = _start_up(env, "import os; from celery.signals import worker_ready; "
                            "from config.celery import app; "
                            "worker_ready.connect(lambda **kw: os._exit(0), weak=False); "
                            "app.worker_main(['worker', '--pool=solo', '--without-mingle', "
                            "'--without-gossip', '--without-heartbeat'])")

    for outcome in (check, web, worker):
        assert outcome.returncode != 0
        assert "The artifact bucket 'gh-no-such-bucket' does not exist at " + s3_server.url in (
            outcome.stderr
        ), outcome.stderr


def test_an_existing_bucket_passes_the_start_up_check(s3_bucket, tmp_path):
    env = {**s3_bucket.env(), "GATEHOUSE_VAR_DIR": str(tmp_path),
           "ARTIFACT_ROOT": str(tmp_path / "artifacts")}

    outcome = _start_up(env, "import config.wsgi; print('started')")

    assert outcome.returncode == 0, outcome.stderr
    assert "started" in outcome.stdout
