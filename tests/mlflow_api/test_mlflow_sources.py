"""An MLflow user's first `create_model_version`, with the real MLflow client: a model logged
under Gatehouse's artifact root registers with no tags (the server hashes the file its MLmodel
names and takes the format from it); the tags, when given, must agree; pickled flavours are
refused; an unreadable source without the tag is told both ways out."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from mlflow.exceptions import MlflowException

from governance.models import AuditEvent
from mlflow_api.models import VersionTag
from registry.models import Artifact, ModelVersion
from tests import s3server

s3_server, s3_bucket = s3server.s3_server, s3server.s3_bucket  # the fixtures, for this module

pytestmark = pytest.mark.django_db(transaction=True)


@lru_cache(maxsize=1)
def _fitted():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), X


def _log_sklearn(path: Path, serialization_format: str) -> Path:
    import mlflow.sklearn

    model, _ = _fitted()
    mlflow.sklearn.save_model(model, str(path), serialization_format=serialization_format,
                              pip_requirements=["scikit-learn"])
    return path


def _log_onnx(path: Path) -> Path:
    import mlflow.onnx
    from skl2onnx import to_onnx

    model, X = _fitted()
    mlflow.onnx.save_model(to_onnx(model, X[:1].astype(np.float32)), str(path),
                           pip_requirements=["onnxruntime"])
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refusal(call) -> str:
    with pytest.raises(MlflowException) as info:
        call()
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    return info.value.message


@pytest.fixture
def client(mlflow_as):
    client = mlflow_as("owner")
    client.create_registered_model("credit-default")
    return client


def test_a_skops_model_logged_under_the_artifact_root_registers_with_no_tags(client, settings):
    model_dir = _log_sklearn(settings.ARTIFACT_ROOT / "runs" / "r1" / "artifacts" / "model", "skops")

    mv = client.create_model_version("credit-default", model_dir.as_uri(), run_id="r1")

    assert mv.version == "1" and mv.source == model_dir.as_uri() and mv.tags == {}
    version = ModelVersion.objects.get()
    assert version.artifact_format == "skops"
    assert version.artifact_sha256 == _sha(model_dir / "model.skops")
    # Stored like an upload, so evidence jobs can load it.
    assert version.artifact == Artifact.objects.get(sha256=version.artifact_sha256)
    event = AuditEvent.objects.get(action="registry.version.registered")
    assert event.payload["after"]["artifact_sha256"] == version.artifact_sha256
    assert event.payload["after"]["provenance"]["source"] == model_dir.as_uri()


def test_an_onnx_model_directory_registers_with_the_format_from_its_mlmodel(client, settings):
    model_dir = _log_onnx(settings.ARTIFACT_ROOT / "runs" / "r2" / "artifacts" / "model")

    client.create_model_version("credit-default", str(model_dir), run_id="r2")

    version = ModelVersion.objects.get()
    assert version.artifact_format == "onnx"
    assert version.artifact_sha256 == _sha(model_dir / "model.onnx")


def test_a_matching_tag_is_accepted_and_a_mismatching_one_refused(client, settings):
    model_dir = _log_sklearn(settings.ARTIFACT_ROOT / "runs" / "r3" / "model", "skops")
    real = _sha(model_dir / "model.skops")

    message = _refusal(lambda: client.create_model_version(
        "credit-default", model_dir.as_uri(), tags={"gatehouse.artifact_sha256": "0" * 64}))
    assert "gatehouse.artifact_sha256" in message and "does not match" in message
    message = _refusal(lambda: client.create_model_version(
        "credit-default", model_dir.as_uri(), tags={"gatehouse.artifact_format": "onnx"}))
    assert "gatehouse.artifact_format=onnx" in message and "skops" in message
    assert not ModelVersion.objects.exists()
    assert not AuditEvent.objects.filter(action="registry.version.registered").exists()

    mv = client.create_model_version("credit-default", model_dir.as_uri(),
                                     tags={"gatehouse.artifact_sha256": real.upper(), "team": "risk"})
    assert mv.version == "1" and mv.tags["team"] == "risk"
    assert ModelVersion.objects.get().artifact_sha256 == real
    assert set(VersionTag.objects.values_list("key", flat=True)) == {"gatehouse.artifact_sha256", "team"}
    # One state change, one event: the tags are named in the registration event.
    event = AuditEvent.objects.get(action="registry.version.registered")
    assert event.payload["after"]["provenance"]["mlflow_tags"]["team"] == "risk"
    assert not AuditEvent.objects.filter(action="mlflow_api.version.tagged").exists()


@pytest.mark.parametrize("serialization_format", ["cloudpickle", "pickle"])
def test_a_pickled_flavour_is_refused_naming_skops_and_onnx(client, settings, serialization_format):
    model_dir = _log_sklearn(settings.ARTIFACT_ROOT / "runs" / "r4" / "model", serialization_format)

    message = _refusal(lambda: client.create_model_version("credit-default", model_dir.as_uri()))
    assert f"serialization_format={serialization_format}" in message
    assert 'serialization_format="skops"' in message and "ONNX" in message
    # Not even with a sha256 tag: the server read the MLmodel file and knows what it is.
    _refusal(lambda: client.create_model_version(
        "credit-default", model_dir.as_uri(),
        tags={"gatehouse.artifact_sha256": _sha(model_dir / "model.pkl")}))
    assert not ModelVersion.objects.exists() and not Artifact.objects.exists()


def test_an_unreadable_source_without_the_tag_names_both_ways_out(client, settings, tmp_path):
    outside = _log_sklearn(tmp_path / "elsewhere" / "model", "skops")
    for source in ("s3://team-bucket/run/artifacts/model", outside.as_uri(), "runs:/abc/model"):
        message = _refusal(lambda source=source: client.create_model_version("credit-default", source))
        assert message.count(". ") == 0, message  # one sentence
        assert source in message and str(settings.ARTIFACT_ROOT) in message
        assert "gatehouse.artifact_sha256=" in message and "gatehouse.artifact_format=" in message
    assert not ModelVersion.objects.exists()


def test_a_model_directory_may_not_point_outside_itself(client, settings):
    model_dir = _log_sklearn(settings.ARTIFACT_ROOT / "runs" / "r5" / "model", "skops")
    mlmodel = model_dir / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("pickled_model: model.skops",
                                                   "pickled_model: ../../../../secret.skops"))
    message = _refusal(lambda: client.create_model_version("credit-default", model_dir.as_uri()))
    assert "not inside the model directory" in message
    assert not ModelVersion.objects.exists()


def test_a_model_in_the_artifact_bucket_registers_with_no_tags(client, s3_bucket, tmp_path):
    """With object storage, an s3:// source in the configured bucket is read from the bucket."""
    local = _log_sklearn(tmp_path / "model", "skops")
    for path in local.iterdir():
        s3_bucket.write(f"runs/r6/artifacts/model/{path.name}", path.read_bytes())
    source = f"s3://{s3_bucket.name}/runs/r6/artifacts/model"

    mv = client.create_model_version("credit-default", source, run_id="r6")

    assert mv.version == "1" and mv.source == source
    version = ModelVersion.objects.get()
    sha = _sha(local / "model.skops")
    assert (version.artifact_format, version.artifact_sha256) == ("skops", sha)
    assert f"{sha[:2]}/{sha}" in s3_bucket.keys()  # stored under its sha256, as an upload is

    message = _refusal(lambda: client.create_model_version(
        "credit-default", "s3://another-bucket/runs/r6/artifacts/model"))
    assert f"s3://{s3_bucket.name}/" in message and "gatehouse.artifact_sha256=" in message
    # The local folder is only a cache in S3 mode: a file:// source there is not read.
    _refusal(lambda: client.create_model_version("credit-default", local.as_uri()))
    assert ModelVersion.objects.count() == 1
