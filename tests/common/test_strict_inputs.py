"""API input is strict (issue 13): an unknown field in a POST/PATCH body is a 400 naming it and
listing the accepted fields, one rule (common.api.InputSerializer) for every endpoint; text has
length caps (issue 18 item 9)."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from common.api import InputSerializer
from governance.models import AuditEvent
from registry.models import LineageEdge, ModelVersion, RegisteredModel
from tests import factories

VERSIONS = "/api/v1/models/credit-default/versions/"


@pytest.fixture
def setup(personas):
    eng = personas["engineer"]
    factories.model(eng)
    factories.dataset_version(eng, factories.dataset(eng))
    return eng


def test_a_misspelt_lineage_field_refuses_the_multipart_registration(client_for, setup):
    client = client_for("engineer")
    events = AuditEvent.objects.count()
    response = client.post(
        VERSIONS,
        {"artifact": factories.upload(factories.skops_bytes(), "model.skops"),
         "training_data": "loans@1"},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    message = body["errors"]["training_data"][0]
    assert "Unknown field 'training_data'" in message
    assert "training_datasets" in message and "evaluation_datasets" in message
    assert "training_data" in body["detail"]
    assert not ModelVersion.objects.exists() and not LineageEdge.objects.exists()
    assert AuditEvent.objects.count() == events
    ok = client.post(
        VERSIONS,
        {"artifact": factories.upload(factories.skops_bytes(), "model.skops"),
         "training_datasets": "loans@1"},
        format="multipart",
    )
    assert ok.status_code == 201, ok.content
    assert ok.json()["training_datasets"] == ["loans@1"]


def test_an_unknown_field_in_json_post_and_patch_is_refused(client_for, setup):
    client = client_for("engineer")
    created = client.post(
        "/api/v1/models/", {"name": "pd-model", "team": "credit", "risk_teir": 1}, format="json"
    )
    assert created.status_code == 400, created.content
    assert list(created.json()["errors"]) == ["risk_teir"]
    assert "the accepted fields are:" in created.json()["errors"]["risk_teir"][0]
    assert not RegisteredModel.objects.filter(name="pd-model").exists()
    patched = client.patch("/api/v1/models/credit-default/", {"descripton": "x"}, format="json")
    assert patched.status_code == 400, patched.content
    assert "descripton" in patched.json()["errors"]


def test_nested_inputs_are_strict_too(client_for, setup):
    """A nested object's unknown key is named under its parent."""
    client = client_for("engineer")
    client.post(VERSIONS, {"artifact": factories.upload(factories.skops_bytes(), "m.skops")},
                format="multipart")
    response = client.post(
        "/api/v1/promotions/",
        {"model": "credit-default", "version": 1, "target_stage": "staging", "justifcation": "x"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "justifcation" in response.json()["errors"]


def test_a_frozen_version_field_still_gets_its_own_rule(client_for, setup):
    client = client_for("engineer")
    client.post(VERSIONS, {"artifact": factories.upload(factories.skops_bytes(), "m.skops")},
                format="multipart")
    refused = client.patch(VERSIONS + "1/", {"artifact_sha256": "c" * 64}, format="json")
    assert refused.status_code == 400
    assert "cannot change after registration" in refused.json()["detail"]


def test_a_huge_description_is_refused_naming_the_field_and_the_cap(client_for, setup, settings):
    client = client_for("engineer")
    response = client.patch(
        "/api/v1/models/credit-default/", {"description": "x" * (9 * 1024 * 1024)}, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert list(body["errors"]) == ["description"]
    assert str(settings.API_TEXT_MAX_LENGTH) in body["errors"]["description"][0]
    assert "description" in body["detail"]
    assert RegisteredModel.objects.get(name="credit-default").description == ""


def test_a_huge_json_value_is_refused(client_for, setup, settings):
    settings.API_JSON_MAX_BYTES = 1000
    response = client_for("engineer").post(
        VERSIONS,
        {"artifact_uri": "s3://m/v.onnx", "artifact_sha256": "a" * 64,
         "hyperparameters": {f"p{i}": "v" * 50 for i in range(40)}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "1000 bytes" in response.json()["errors"]["hyperparameters"][0]


def _write_operations():
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, _regex, method, callback in generator.endpoints:
        if method in ("POST", "PUT", "PATCH") and path.startswith("/api/v1/"):
            yield path, method, generator.create_view(callback, method)


def test_every_write_endpoint_parses_its_body_with_a_strict_input():
    """New endpoints cannot forget the rule: each request serializer is an InputSerializer."""
    lenient = []
    for path, method, view in _write_operations():
        serializer = view.schema.get_request_serializer()
        if serializer is None or path.startswith("/api/v1/lineage/openlineage/"):
            continue  # no body, or an OpenLineage RunEvent (its spec allows custom facets)
        cls = serializer if isinstance(serializer, type) else type(serializer)
        if not issubclass(cls, InputSerializer):
            lenient.append(f"{method} {path}: {cls.__name__}")
    assert lenient == []


def test_inputs_validated_one_after_another_do_not_share_state(settings):
    """The fields are built once per class and copied per instance (common.api): one body's
    values, errors and list items never show up in the next, and a changed cap applies."""
    from registry.api.serializers import VersionCreateInput

    first = VersionCreateInput(data={"artifact_uri": "s3://m/1.onnx", "artifact_sha256": "a" * 64,
                                     "tags": ["gold", "x" * 201]})
    assert not first.is_valid()
    assert list(first.errors) == ["tags"] and "200" in str(first.errors["tags"])
    second = VersionCreateInput(data={"artifact_uri": "s3://m/2.onnx", "artifact_sha256": "b" * 64,
                                      "tags": ["silver"], "metrics": {"auc": 0.8}})
    assert second.is_valid(), second.errors
    assert second.validated_data["tags"] == ["silver"]
    assert second.validated_data["artifact_uri"] == "s3://m/2.onnx"
    assert second.fields["tags"].child.parent is second.fields["tags"]
    assert second.fields["tags"] is not first.fields["tags"]
    bad = VersionCreateInput(data={"metrics": {"auc": "high"}})
    assert not bad.is_valid() and "auc" in str(bad.errors["metrics"])
    good = VersionCreateInput(data={"artifact_uri": "s3://m/4.onnx", "metrics": {"f1": 0.1}})
    assert good.is_valid(), good.errors

    settings.API_TEXT_MAX_LENGTH = 10
    capped = VersionCreateInput(data={"artifact_uri": "s3://m/3.onnx", "artifact_sha256": "c" * 64,
                                      "description": "x" * 11})
    assert not capped.is_valid()
    assert "10" in str(capped.errors["description"][0])
