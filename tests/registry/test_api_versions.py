import hashlib

import pytest
from django.conf import settings
from django.test import override_settings

from governance.models import AuditEvent
from registry.models import Artifact, LineageEdge, ModelVersion
from tests import contract, factories

URL = "/api/v1/models/credit-default/versions/"


@pytest.fixture
def setup(personas):
    eng = personas["engineer"]
    model = factories.model(eng, developers=["engineer2"])
    ds = factories.dataset(eng)
    dv = factories.dataset_version(eng, ds)
    return model, dv


def _multipart(data: bytes, name: str = "model.skops", **fields):
    return {"artifact": factories.upload(data, name), **fields}


def test_register_version_multipart_with_lineage(client_for, setup):
    body = _multipart(
        factories.skops_bytes(), training_datasets="loans@1", framework="scikit-learn",
        hyperparameters='{"C": 1.0}', metrics='{"auc": 0.81}',
    )
    response, event = contract.assert_creates_one_audit_event(
        client_for("engineer"), URL, body, "registry.version.registered", fmt="multipart"
    )
    out = response.json()
    sha = hashlib.sha256(factories.skops_bytes()).hexdigest()
    assert (out["version"], out["stage"], out["artifact_sha256"]) == (1, "development", sha)
    assert out["training_datasets"] == ["loans@1"]
    assert out["hyperparameters"] == {"C": 1.0}
    assert out["artifact_format"] == "skops"
    assert Artifact.objects.get(sha256=sha).size == len(factories.skops_bytes())
    assert event.payload["after"]["training_datasets"] == ["loans@1"]


def test_register_version_json_with_external_uri(client_for, setup):
    client = client_for("engineer")
    client.post(URL, _multipart(factories.skops_bytes()), format="multipart")
    response = client.post(URL, {
        "artifact_uri": "s3://models/credit/v2.onnx", "artifact_sha256": "a" * 64,
        "parents": ["credit-default@1"], "evaluation_datasets": ["loans@1"],
        "signature": {"inputs": [{"name": "income", "type": "double"}]},
    }, format="json")
    assert response.status_code == 201, response.content
    out = response.json()
    assert out["version"] == 2 and out["artifact_format"] == "onnx"
    assert out["parents"] == ["credit-default@1"] and out["evaluation_datasets"] == ["loans@1"]
    assert client.get(URL + "2/").json()["parents"] == ["credit-default@1"]


@pytest.mark.parametrize("name", ["model.pkl", "model.joblib", "model.skops"])
def test_pickle_and_joblib_are_refused_and_nothing_is_stored(client_for, setup, name):
    client = client_for("engineer")
    before = AuditEvent.objects.count()
    response = client.post(URL, _multipart(factories.pickle_bytes(), name=name), format="multipart")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "Pickle/joblib artifacts are refused" in detail and ".skops" in detail and "ONNX" in detail
    sha = hashlib.sha256(factories.pickle_bytes()).hexdigest()
    assert not ModelVersion.objects.exists() and not Artifact.objects.filter(sha256=sha).exists()
    assert not list((settings.ARTIFACT_ROOT).glob(f"*/{sha}"))
    assert AuditEvent.objects.count() == before


def test_sha256_mismatch_is_400(client_for, setup):
    response = client_for("engineer").post(
        URL, _multipart(factories.skops_bytes(), artifact_sha256="b" * 64), format="multipart"
    )
    assert response.status_code == 400
    assert "does not match" in response.json()["detail"]
    assert not Artifact.objects.filter(model_versions__isnull=False).exists()
    assert not ModelVersion.objects.exists()


def test_oversized_upload_is_413(client_for, setup):
    with override_settings(MAX_ARTIFACT_BYTES=100):
        response = client_for("engineer").post(
            URL, _multipart(factories.skops_bytes()), format="multipart"
        )
    assert response.status_code == 413
    assert "MAX_ARTIFACT_BYTES" in response.json()["detail"]
    assert not ModelVersion.objects.exists()


def test_unknown_references_are_400_naming_them_and_nothing_written(client_for, setup):
    response = client_for("engineer").post(
        URL,
        _multipart(factories.skops_bytes(), training_datasets="loans@1,loans@9,nope@1",
                   parents="credit-default@4"),
        format="multipart",
    )
    assert response.status_code == 400
    body = response.json()
    assert "loans@9" in str(body) and "nope@1" in str(body)
    assert not ModelVersion.objects.exists() and not LineageEdge.objects.exists()
    sha = hashlib.sha256(factories.skops_bytes()).hexdigest()
    assert not Artifact.objects.filter(sha256=sha).exists()


def test_bad_references_are_named_under_each_field_and_duplicates_collapse(client_for, setup):
    client = client_for("engineer")
    bad = client.post(URL, {
        "artifact_uri": "s3://m/v.onnx", "artifact_sha256": "a" * 64,
        "training_datasets": ["loans@9"], "evaluation_datasets": ["loans@1", "nope@2"],
        "parents": ["credit-default@7"],
    }, format="json")
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert errors["training_datasets"] == ["Unknown dataset version loans@9."]
    assert errors["evaluation_datasets"] == ["Unknown dataset version nope@2."]
    assert errors["parents"] == ["Unknown model version credit-default@7."]
    assert bad.json()["detail"] == (
        "Unknown dataset version loans@9; Unknown dataset version nope@2; "
        "Unknown model version credit-default@7."
    )
    assert not ModelVersion.objects.exists()
    good = client.post(URL, {
        "artifact_uri": "s3://m/v.onnx", "artifact_sha256": "a" * 64,
        "training_datasets": ["loans@1", "loans@1"], "evaluation_datasets": ["loans@1"],
    }, format="json")
    assert good.status_code == 201, good.content
    assert good.json()["training_datasets"] == ["loans@1"]
    assert good.json()["evaluation_datasets"] == ["loans@1"]
    assert LineageEdge.objects.count() == 2


def test_version_immutable_except_description_and_tags(client_for, setup):
    client = client_for("engineer")
    client.post(URL, _multipart(factories.skops_bytes()), format="multipart")
    refused = client.patch(URL + "1/", {"artifact_sha256": "c" * 64, "parents": []}, format="json")
    assert refused.status_code == 400
    assert "cannot change after registration" in refused.json()["detail"]
    ok = client.patch(URL + "1/", {"description": "calibrated", "tags": ["v1"]}, format="json")
    assert ok.status_code == 200
    assert ok.json()["description"] == "calibrated"
    event = AuditEvent.objects.filter(action="registry.version.updated").get()
    assert event.payload["after"] == {"description": "calibrated", "tags": ["v1"]}


def test_only_owning_team_registers_versions(client_for, setup):
    response = client_for("other_engineer").post(
        URL, _multipart(factories.skops_bytes()), format="multipart"
    )
    assert response.status_code == 404  # cannot even see the model
    response = client_for("validator").post(URL, _multipart(factories.skops_bytes()), format="multipart")
    assert response.status_code == 403
    assert "owning team" in response.json()["detail"]
    contract.assert_auditor_403(client_for("auditor"), URL, data={"artifact_uri": "x"})


def test_vendor_version_without_artifact(client_for, setup):
    response = client_for("engineer").post(URL, {
        "kind": "vendor", "vendor": {"name": "Bureau Inc", "product": "Score X", "version": "7"},
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "vendor" and response.json()["artifact_sha256"] == ""
    missing = client_for("engineer").post(URL, {"kind": "vendor"}, format="json")
    assert missing.status_code == 400 and "vendor.name" in missing.json()["detail"]


def test_missing_artifact_is_400(client_for, setup):
    response = client_for("engineer").post(URL, {"framework": "sklearn"}, format="json")
    assert response.status_code == 400
    assert "artifact" in response.json()["errors"]


def test_version_list_query_count_bounded(client_for, setup, personas):
    client = client_for("engineer")
    model, _ = setup
    factories.version(personas["engineer"], model, training_datasets=["loans@1"])

    def grow():
        for _ in range(5):
            factories.version(
                personas["engineer"], model, training_datasets=["loans@1"], parents=["credit-default@1"]
            )

    contract.assert_list_queries_bounded(client, URL, grow)


def test_a_registration_by_uri_finds_and_numbers_the_model_in_one_statement(
    client_for, setup, django_capture_on_commit_callbacks
):
    """Token, numbering UPDATE (which also finds the model), version INSERT, audit INSERT; the
    webhook fan-out after commit reads nothing once the endpoints are known."""
    client = client_for("engineer")
    body = {"artifact_uri": "s3://models/credit/v.onnx", "artifact_sha256": "a" * 64}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(URL, body, format="json").status_code == 201  # warm: token stamp
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    # (The savepoint pair is the test's own transaction; in production it is BEGIN/COMMIT.)
    statements = [q["sql"].split()[0] for q in ctx.captured_queries
                  if q["sql"].split()[0] not in ("SAVEPOINT", "RELEASE")]
    assert statements == ["SELECT", "UPDATE", "INSERT", "INSERT"], statements
    assert response.json()["version"] == 2
    assert list(ModelVersion.objects.values_list("version", flat=True).order_by("version")) == [1, 2]


def test_refusals_of_a_registration_by_uri_leave_the_version_number_untouched(client_for, setup):
    model, _ = setup
    body = {"artifact_uri": "s3://models/credit/v.onnx", "artifact_sha256": "a" * 64}
    outsider = client_for("other_engineer")
    # Hidden from the outsider: 404 whatever the body, and no number is used up.
    assert outsider.post(URL, body, format="json").status_code == 404
    assert outsider.post(URL, {"artifact_sha256": "xyz"}, format="json").status_code == 404
    # Visible but not theirs to write (read-everything role): 403, rolled back.
    refused = client_for("validator").post(URL, body, format="json")
    assert refused.status_code == 403
    # Visible and writable, bad input: 400 naming the field.
    bad = client_for("engineer").post(URL, {"artifact_sha256": "xyz"}, format="json")
    assert bad.status_code == 400 and "artifact_sha256" in bad.json()["errors"]
    model.refresh_from_db()
    assert model.latest_version == 0 and not ModelVersion.objects.exists()
    ok = client_for("engineer").post(URL, body, format="json")
    assert ok.status_code == 201 and ok.json()["version"] == 1
    assert client_for("engineer").post("/api/v1/models/no-such/versions/", body,
                                       format="json").status_code == 404


def test_a_version_read_in_one_statement_is_what_the_ordinary_reads_render(
    client_for, setup, personas, django_assert_max_num_queries
):
    from registry import selectors
    from registry.api import serializers as s

    client = client_for("engineer")
    client.post(URL, _multipart(factories.skops_bytes(), training_datasets="loans@1"),
                format="multipart")
    client.post(URL, {"artifact_uri": "s3://models/credit/v2.onnx", "artifact_sha256": "a" * 64,
                      "parents": ["credit-default@1"], "evaluation_datasets": ["loans@1"],
                      "training_datasets": ["loans@1"], "metrics": {"auc": 0.8},
                      "tags": ["b", "a"]}, format="json")
    model, _ = setup
    for number in (1, 2):
        ordinary = selectors.with_lineage_refs(
            [selectors.version_get(model, number, queryset=selectors.version_rows(model))])[0]
        with django_assert_max_num_queries(2):  # the token, the version (warm: no stamp)
            client.get(f"{URL}{number}/")
        answer = client.get(f"{URL}{number}/")
        assert answer.status_code == 200
        assert answer.json() == s.VersionOutput(ordinary).data
    assert answer.json()["parents"] == ["credit-default@1"]
    assert answer.json()["evaluation_datasets"] == ["loans@1"]
    assert client.get(f"{URL}1/").json()["artifact_size"] == len(factories.skops_bytes())
    # Not found, with the reason: no such version; a model hidden from the caller; no number.
    missing = client.get(f"{URL}9/")
    assert missing.status_code == 404 and "has no version 9" in missing.json()["detail"]
    hidden = client_for("other_engineer").get(f"{URL}1/")
    assert hidden.status_code == 404 and "No model named 'credit-default'" in hidden.json()["detail"]
    assert client_for("validator").get(f"{URL}1/").status_code == 200  # reads everything
