"""External URIs are limited to the configured schemes (issue 18 item 8): the REST API for
versions and dataset versions, and the MLflow adapter, all through registry.uris."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent
from registry import uris
from registry.models import DatasetVersion, ModelVersion
from tests import factories

VERSIONS = "/api/v1/models/credit-default/versions/"
DATASET_VERSIONS = "/api/v1/datasets/loans/versions/"
REFUSED = [
    "file:///etc/passwd",
    "../../etc/passwd",
    "/etc/passwd",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "https://169.254.169.254/latest/meta-data/",
    "https://127.0.0.1:8000/admin/",
    "https://localhost/model.onnx",
    "https://10.0.0.5/model.onnx",
    "ftp://example.com/model.onnx",
    "javascript:alert(1)",
    "gopher://example.com/_",
]
ACCEPTED = [
    "s3://models/credit/v2.onnx",
    "gs://models/credit/v2.onnx",
    "abfss://models@account.dfs.core.windows.net/credit/v2.onnx",
    "https://artifacts.example.com/credit/v2.onnx",
    "dbfs:/models/credit/v2.onnx",
    "models:/credit-default/3",
]


@pytest.fixture
def engineer(client_for, personas):
    eng = personas["engineer"]
    factories.model(eng)
    factories.dataset(eng)
    return client_for("engineer")


@pytest.mark.parametrize("uri", REFUSED)
def test_a_version_with_a_uri_outside_the_allowed_schemes_is_refused(engineer, uri):
    events = AuditEvent.objects.count()
    response = engineer.post(
        VERSIONS, {"artifact_uri": uri, "artifact_sha256": "a" * 64, "artifact_format": "onnx"},
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "uri_not_allowed"
    assert "artifact_uri" in body["errors"]
    for scheme in ("s3:", "gs:", "abfss:", "https:", "dbfs:", "models:"):
        assert scheme in body["detail"]
    assert not ModelVersion.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("uri", ACCEPTED)
def test_a_version_in_an_allowed_store_is_registered(engineer, uri):
    response = engineer.post(
        VERSIONS, {"artifact_uri": uri, "artifact_sha256": "a" * 64, "artifact_format": "onnx"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert ModelVersion.objects.get().artifact_uri == uri


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "../../etc/passwd", "http://169.254.169.254/x"])
def test_a_dataset_version_uri_follows_the_same_rule(engineer, uri):
    response = engineer.post(DATASET_VERSIONS, {"uri": uri, "sha256": "b" * 64}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "uri_not_allowed"
    assert "uri" in response.json()["errors"]
    assert not DatasetVersion.objects.exists()
    ok = engineer.post(DATASET_VERSIONS, {"uri": "s3://lake/loans.parquet", "sha256": "b" * 64},
                       format="json")
    assert ok.status_code == 201, ok.content


def test_the_allowed_schemes_are_configured(engineer, settings):
    settings.ALLOWED_URI_SCHEMES = ["s3"]
    refused = engineer.post(VERSIONS, {"artifact_uri": "gs://m/v.onnx", "artifact_sha256": "a" * 64},
                            format="json")
    assert refused.status_code == 400
    assert "'gs'" in refused.json()["detail"]
    accepted = engineer.post(VERSIONS, {"artifact_uri": "s3://m/v.onnx", "artifact_sha256": "a" * 64},
                             format="json")
    assert accepted.status_code == 201, accepted.content


def test_the_storage_own_files_are_allowed_only_inside_the_artifact_root(settings):
    inside = settings.ARTIFACT_ROOT / "incoming" / "model.onnx"
    assert uris.is_allowed(inside.as_uri())
    assert uris.is_allowed(str(inside))
    escape = settings.ARTIFACT_ROOT / ".." / ".." / "etc" / "passwd"
    assert not uris.is_allowed(escape.as_uri())
    assert not uris.is_allowed(str(escape))


def test_the_mlflow_adapter_refuses_the_same_uris(personas, client_for):
    from rest_framework.test import APIClient

    from governance import services as gov

    owner = personas["owner"]
    factories.model(owner, name="credit-default")
    _, key = gov.token_create(user=owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    for source in ("file:///etc/passwd", "http://169.254.169.254/latest/meta-data/"):
        response = client.post(
            "/api/2.0/mlflow/model-versions/create",
            {"name": "credit-default", "source": source,
             "tags": [{"key": "gatehouse.artifact_sha256", "value": "a" * 64},
                      {"key": "gatehouse.artifact_format", "value": "onnx"}]},
            format="json",
        )
        assert response.status_code == 400, response.content
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "allowed schemes" in response.json()["message"]
    assert not ModelVersion.objects.exists()
