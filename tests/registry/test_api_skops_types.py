"""Registration checks a .skops file's types with the loader's own rule (issue 18 item 7)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from explainability import inputs
from explainability.runners import loading
from governance.models import AuditEvent
from registry import skops_types
from registry.models import Artifact, ModelVersion
from tests import factories

URL = "/api/v1/models/credit-default/versions/"


class HomeMadeScaler(StandardScaler):
    """A class skops has never heard of (and no allowlist names)."""


def _fitted(*steps, fit: bool = True) -> bytes:
    if not fit:  # the types are what matters, and os.system cannot be fitted
        return sio.dumps(make_pipeline(*steps, LogisticRegression()))
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    return sio.dumps(make_pipeline(*steps, LogisticRegression()).fit(X, y))


@pytest.fixture
def model(personas):
    return factories.model(personas["engineer"])


def _register(client, data: bytes):
    return client.post(
        URL, {"artifact": factories.upload(data, "model.skops")}, format="multipart"
    )


@pytest.mark.parametrize(
    "payload, refused",
    [
        (lambda: _fitted(FunctionTransformer(os.system), fit=False), ["posix.system"]),
        (lambda: _fitted(HomeMadeScaler()), [f"{__name__}.HomeMadeScaler"]),
    ],
    ids=["posix.system", "custom-class"],
)
def test_registration_refuses_untrusted_skops_types_naming_them(
    client_for, model, payload, refused, settings
):
    client = client_for("engineer")
    events = AuditEvent.objects.count()
    response = _register(client, payload())
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "untrusted_skops_types"
    for name in refused:
        assert name in body["detail"]
        assert name in body["errors"]["artifact"][0]
    # Nothing stored: no version, no artifact row, no file, no audit event.
    assert not ModelVersion.objects.exists()
    assert not Artifact.objects.exists()
    kept = [p for p in settings.ARTIFACT_ROOT.rglob("*") if p.is_file()]
    assert kept == []
    assert AuditEvent.objects.count() == events


def test_a_type_trusted_by_configuration_is_accepted_at_upload_and_loads(
    client_for, model, settings
):
    """The same configured allowlist governs both: adding the class lets both accept it."""
    settings.TRUSTED_SKOPS_TYPE_PREFIXES = [
        *skops_types.DEFAULT_TRUSTED_TYPE_PREFIXES, f"{__name__}.HomeMadeScaler"
    ]
    response = _register(client_for("engineer"), _fitted(HomeMadeScaler()))
    assert response.status_code == 201, response.content
    version = ModelVersion.objects.get()
    loaded = loading.load_model(
        inputs.model_path(version), artifact_format="skops",
        expected_sha256=version.artifact_sha256,
        trusted_types=skops_types.configured_trusted_types(),
    )
    assert type(loaded.model.steps[0][1]).__name__ == "HomeMadeScaler"


def test_the_loader_and_registration_share_one_rule():
    assert loading.is_type_trusted is skops_types.is_type_trusted
    assert skops_types.refused_types(["posix.system", "sklearn.svm.SVC"], ["sklearn."]) == [
        "posix.system"
    ]


def test_builtins_cannot_be_trusted_by_configuration(settings):
    settings.TRUSTED_SKOPS_TYPE_PREFIXES = ["sklearn.", "builtins.", "posix."]
    assert skops_types.configured_trusted_types() == ["sklearn."]


def test_a_plain_model_still_registers(client_for, model):
    response = _register(client_for("engineer"), factories.skops_bytes())
    assert response.status_code == 201, response.content
