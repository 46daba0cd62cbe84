"""Registering XGBoost models in XGBoost's own model format (JSON / UBJSON)."""

import hashlib

import numpy as np
import pytest
from django.conf import settings

from governance.models import AuditEvent
from registry.models import Artifact, ModelVersion
from tests import contract, factories

URL = "/api/v1/models/credit-default/versions/"


@pytest.fixture
def setup(personas):
    factories.model(personas["engineer"])


def _xgboost_bytes(raw_format: str) -> bytes:
    import xgboost

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    model = xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)
    return bytes(model.get_booster().save_raw(raw_format))


@pytest.mark.parametrize(("name", "raw_format"), [("model.ubj", "ubj"), ("model.json", "json")])
def test_xgboost_model_file_registers_with_its_format_detected(client_for, setup, name, raw_format):
    data = _xgboost_bytes(raw_format)
    response, event = contract.assert_creates_one_audit_event(
        client_for("engineer"), URL, {"artifact": factories.upload(data, name)},
        "registry.version.registered", fmt="multipart",
    )
    out = response.json()
    assert out["artifact_format"] == "xgboost"
    assert out["artifact_sha256"] == hashlib.sha256(data).hexdigest()
    assert ModelVersion.objects.get().artifact.size == len(data)


@pytest.mark.parametrize("name", ["model.json", "model.ubj"])
def test_pickle_under_an_xgboost_name_is_refused_and_nothing_stored(client_for, setup, name):
    client = client_for("engineer")
    before = AuditEvent.objects.count()
    data = factories.pickle_bytes()
    response = client.post(
        URL, {"artifact": factories.upload(data, name)}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unsafe_artifact"
    assert "Pickle/joblib artifacts are refused" in body["detail"] and "XGBoost" in body["detail"]
    sha = hashlib.sha256(data).hexdigest()
    assert not ModelVersion.objects.exists() and not Artifact.objects.filter(sha256=sha).exists()
    assert not list(settings.ARTIFACT_ROOT.glob(f"*/{sha}"))
    assert AuditEvent.objects.count() == before


def test_json_that_is_not_an_xgboost_model_is_refused(client_for, setup):
    response = client_for("engineer").post(
        URL, {"artifact": factories.upload(b'{"weights": [1, 2, 3]}', "model.json")},
        format="multipart",
    )
    assert response.status_code == 400
    assert "XGBoost model file could not be parsed" in response.json()["detail"]
    assert not ModelVersion.objects.exists() and not Artifact.objects.exists()


def test_skops_archive_declared_as_xgboost_is_refused(client_for, setup):
    response = client_for("engineer").post(
        URL,
        {"artifact": factories.upload(factories.skops_bytes(), "model.bin"),
         "artifact_format": "xgboost"},
        format="multipart",
    )
    assert response.status_code == 400
    assert "not an XGBoost model file" in response.json()["detail"]
    assert not ModelVersion.objects.exists()
