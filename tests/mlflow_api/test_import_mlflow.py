"""`manage.py import_mlflow` against a real MLflow tracking server (SQLite backend) started on a
free loopback port, holding models made with the MLflow client."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command

from governance.models import AuditEvent
from mlflow_api.models import ModelAlias, ModelTag, VersionTag
from registry.models import DatasetVersion, LineageEdge, ModelVersion, RegisteredModel

ONNX_BYTES = b"\x08\x07\x12\x07pytorch-not-really-onnx-but-bytes"
ONNX_BYTES_2 = b"\x08\x07\x12\x07second-model"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path, monkeypatch):
    """A real `mlflow server` subprocess; yields its URL and stops it afterwards."""
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                 "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "mlflow-server.log").open("wb")
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    proc = subprocess.Popen(
        [mlflow_bin, "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
         "--artifacts-destination", str(tmp_path / "mlartifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")},
             "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no background job runner needed
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("mlflow server did not start:\n" + (tmp_path / "mlflow-server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def _populate(url: str, tmp_path: Path) -> dict:
    """What a team has in MLflow: runs with params, metrics, a commit and a training set,
    a registered model with tags, aliases, an archived version and one pickled version."""
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    experiment = client.create_experiment("credit")
    train_csv = tmp_path / "train.csv"
    train_csv.write_text("income,age,default\n10,30,0\n20,40,1\n")

    def run_with(model_file: str, payload: bytes, c: str) -> str:
        run = client.create_run(experiment)
        client.log_param(run.info.run_id, "C", c)
        client.log_metric(run.info.run_id, "auc", 0.81)
        client.set_tag(run.info.run_id, "mlflow.source.git.commit", "0123abcd")
        client.log_inputs(run.info.run_id, datasets=[DatasetInput(
            Dataset(name="Loans Train", digest="d41d8cd9", source_type="local",
                    source=f'{{"uri": "{train_csv}"}}'),
            tags=[InputTag("mlflow.data.context", "training")])])
        local = tmp_path / "out" / run.info.run_id / model_file
        local.parent.mkdir(parents=True)
        local.write_bytes(payload)
        client.log_artifact(run.info.run_id, str(local), artifact_path="model")
        client.set_terminated(run.info.run_id)
        return run.info.run_id

    runs = [run_with("model.onnx", ONNX_BYTES, "0.5"), run_with("model.onnx", ONNX_BYTES_2, "1.0"),
            run_with("model.pkl", b"not loaded", "2.0")]
    client.create_registered_model("credit-default", tags={"domain": "credit"}, description="PD model")
    for run_id in runs:
        client.create_model_version("credit-default", f"runs:/{run_id}/model", run_id=run_id,
                                    tags={"trainer": "nightly"})
    client.update_model_version("credit-default", "1", description="first")
    client.transition_model_version_stage("credit-default", "2", "Archived")
    client.set_registered_model_alias("credit-default", "challenger", "2")
    client.set_registered_model_alias("credit-default", "champion", "1")
    return {"runs": runs, "csv_sha": hashlib.sha256(train_csv.read_bytes()).hexdigest()}


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_import_brings_an_mlflow_registry_over_once(mlflow_server, tmp_path, personas):
    source = _populate(mlflow_server, tmp_path)
    out = io.StringIO()
    call_command("import_mlflow", "--tracking-uri", mlflow_server, "--as", "owner", stdout=out)
    text = out.getvalue()

    model = RegisteredModel.objects.get(name="credit-default")
    assert (model.team.name, model.owner.username, model.description) == ("credit", "owner", "PD model")
    assert dict(ModelTag.objects.filter(model=model).values_list("key", "value")) == {"domain": "credit"}
    v1, v2 = ModelVersion.objects.filter(model=model).order_by("version")
    assert ModelVersion.objects.filter(model=model).count() == 2
    assert v1.artifact_sha256 == hashlib.sha256(ONNX_BYTES).hexdigest() and v1.artifact_format == "onnx"
    assert v1.artifact_uri == f"runs:/{source['runs'][0]}/model/model.onnx"
    assert v1.provenance["source"] == f"runs:/{source['runs'][0]}/model"
    assert v1.provenance["run_id"] == source["runs"][0]
    assert (v1.hyperparameters, v1.metrics, v1.code_commit) == ({"C": "0.5"}, {"auc": 0.81}, "0123abcd")
    assert v1.description == "first"
    assert dict(VersionTag.objects.filter(version=v1).values_list("key", "value")) == {"trainer": "nightly"}
    assert (v1.stage, v2.stage) == ("development", "archived")
    edge = LineageEdge.objects.select_related("upstream_dataset__dataset").get(downstream_model=v1)
    assert edge.kind == "trained_on" and edge.upstream_dataset.dataset.name == "loans-train"
    assert edge.upstream_dataset.sha256 == source["csv_sha"]
    assert DatasetVersion.objects.count() == 1  # both runs trained on the same file
    assert list(ModelAlias.objects.values_list("alias", "version__version")) == [("challenger", 2)]
    assert "version 3" in text and "model.pkl" in text  # the pickled version is named, not imported
    assert "alias 'champion' not imported" in text

    events = AuditEvent.objects.count()
    again = io.StringIO()
    call_command("import_mlflow", "--tracking-uri", mlflow_server, "--as", "owner", stdout=again)
    assert AuditEvent.objects.count() == events
    assert ModelVersion.objects.count() == 2 and DatasetVersion.objects.count() == 1
    assert "models created: 0, versions created: 0, datasets created: 0, versions already imported: 2" in again.getvalue()
