"""The rules behind the MLflow endpoints, driven over HTTP in MLflow's wire format."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from governance import services as gov
from governance.models import AuditEvent
from mlflow_api.models import ModelTag
from registry.models import ModelVersion, RegisteredModel
from tests.mlflow_api.conftest import SHA_A


def onnx_bytes() -> bytes:
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    return to_onnx(LogisticRegression().fit(X, [0, 1] * 5), X[:1]).SerializeToString()

API = "/api/2.0/mlflow/"


@pytest.fixture
def owner(client_for):
    return client_for("owner")


def post(client, path, body, method="post"):
    return getattr(client, method)(API + path, body, format="json")


def create(client, name="credit-default", **body):
    response = post(client, "registered-models/create", {"name": name, **body})
    assert response.status_code == 200, response.content
    return response.json()["registered_model"]


def create_version(client, name="credit-default", source="s3://m/model.onnx", tags=None, **body):
    tags = {"gatehouse.artifact_sha256": SHA_A} if tags is None else tags
    return post(client, "model-versions/create", {
        "name": name, "source": source, "tags": [{"key": k, "value": v} for k, v in tags.items()], **body})


def assert_error(response, status: int, code: str, *phrases: str) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error_code"] == code, body
    for phrase in phrases:
        assert phrase in body["message"], body["message"]
    return body["message"]


def test_anonymous_and_bad_tokens_get_mlflows_unauthenticated(db):
    assert_error(APIClient().get(API + "registered-models/search"), 401, "UNAUTHENTICATED",
                 "MLFLOW_TRACKING_TOKEN")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_error(client.get(API + "registered-models/search"), 401, "UNAUTHENTICATED")


def test_unknown_endpoints_and_methods_answer_endpoint_not_found(owner):
    assert_error(owner.get(API + "experiments/search"), 404, "ENDPOINT_NOT_FOUND")
    assert_error(owner.get(API + "registered-models/create"), 404, "ENDPOINT_NOT_FOUND")


def test_the_ui_prefix_serves_the_same_registry(owner):
    create(owner)
    response = owner.get("/ajax-api/2.0/mlflow/registered-models/get", {"name": "credit-default"})
    assert response.status_code == 200 and response.json()["registered_model"]["name"] == "credit-default"


def test_owning_team_is_the_callers_only_team_or_the_team_tag(client_for, personas, db):
    body = create(client_for("engineer"))
    assert RegisteredModel.objects.get(name=body["name"]).team.name == "credit"
    user = gov.user_create(username="dual", roles=["engineer"], teams=["credit", "fraud"], password="pw-dual")
    _, key = gov.token_create(user=user)
    dual = APIClient()
    dual.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert_error(post(dual, "registered-models/create", {"name": "fraud-score"}), 400,
                 "INVALID_PARAMETER_VALUE", "gatehouse.team", "credit, fraud")
    assert not RegisteredModel.objects.filter(name="fraud-score").exists()
    create(dual, "fraud-score", tags=[{"key": "gatehouse.team", "value": "fraud"}])
    assert RegisteredModel.objects.get(name="fraud-score").team.name == "fraud"


def test_names_gatehouse_cannot_reference_are_refused(owner):
    assert_error(post(owner, "registered-models/create", {"name": "my model.v2"}), 400,
                 "INVALID_PARAMETER_VALUE", "letters, digits")


def test_a_version_needs_the_sha256_of_its_artifact(owner):
    create(owner)
    before = AuditEvent.objects.count()
    assert_error(create_version(owner, tags={}), 400, "INVALID_PARAMETER_VALUE", "gatehouse.artifact_sha256")
    assert_error(create_version(owner, source="s3://m/model.pkl"), 400, "INVALID_PARAMETER_VALUE", "Pickle")
    assert not ModelVersion.objects.exists() and AuditEvent.objects.count() == before


def test_a_source_file_under_the_artifact_root_is_hashed_by_the_server(owner, settings, tmp_path):
    create(owner)
    inside = settings.ARTIFACT_ROOT / "incoming" / "model.onnx"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(onnx_bytes())
    response = create_version(owner, source=inside.as_uri(), tags={})
    assert response.status_code == 200, response.content
    assert ModelVersion.objects.get().artifact_sha256 == hashlib.sha256(onnx_bytes()).hexdigest()
    inside.with_name("fake.onnx").write_bytes(b"not onnx at all")
    assert_error(create_version(owner, source=str(inside.with_name("fake.onnx")), tags={}), 400,
                 "INVALID_PARAMETER_VALUE", "not a valid ONNX model")
    outside = tmp_path / "elsewhere.onnx"
    outside.write_bytes(b"secret")
    assert_error(create_version(owner, source=str(outside), tags={}), 400, "INVALID_PARAMETER_VALUE")


def test_rename_is_audited_and_refused_once_the_model_has_stage_history(owner):
    create(owner)
    response = post(owner, "registered-models/rename", {"name": "credit-default", "new_name": "credit-pd"})
    assert response.status_code == 200 and response.json()["registered_model"]["name"] == "credit-pd"
    event = AuditEvent.objects.get(action="registry.model.renamed")
    assert event.payload == {"before": {"name": "credit-default"}, "after": {"name": "credit-pd"}}
    assert create_version(owner, "credit-pd").status_code == 200
    archived = post(owner, "model-versions/transition-stage",
                    {"name": "credit-pd", "version": "1", "stage": "archived"})
    assert archived.json()["model_version"]["current_stage"] == "Archived"
    assert_error(post(owner, "registered-models/rename", {"name": "credit-pd", "new_name": "x"}), 403,
                 "PERMISSION_DENIED", "governance history", "stage changes")
    assert RegisteredModel.objects.filter(name="credit-pd").exists()


def test_only_an_empty_model_can_be_deleted_and_versions_never(owner):
    create(owner, "scratch", tags=[{"key": "k", "value": "v"}])
    assert post(owner, "registered-models/delete", {"name": "scratch"}, "delete").status_code == 200
    assert not RegisteredModel.objects.filter(name="scratch").exists() and not ModelTag.objects.exists()
    assert AuditEvent.objects.filter(action="registry.model.deleted", model_name="scratch").count() == 1

    create(owner)
    create_version(owner)
    assert_error(post(owner, "registered-models/delete", {"name": "credit-default"}, "delete"), 403,
                 "PERMISSION_DENIED", "1 registered version")
    assert_error(post(owner, "model-versions/delete", {"name": "credit-default", "version": "1"}, "delete"),
                 403, "PERMISSION_DENIED", "archive it instead")
    assert ModelVersion.objects.count() == 1


def test_stages_other_than_archived_never_move_from_the_mlflow_api(owner):
    create(owner)
    create_version(owner)
    create_version(owner)
    post(owner, "model-versions/transition-stage", {"name": "credit-default", "version": "1", "stage": "Archived"})
    assert_error(post(owner, "model-versions/transition-stage",
                      {"name": "credit-default", "version": "1", "stage": "None"}), 403,
                 "PERMISSION_DENIED", "back to None")
    assert_error(post(owner, "model-versions/transition-stage",
                      {"name": "credit-default", "version": "2", "stage": "Live"}), 400,
                 "INVALID_PARAMETER_VALUE", "Staging")
    assert_error(post(owner, "registered-models/alias", {"name": "credit-default", "alias": "champion"},
                      "delete"), 403, "PERMISSION_DENIED", "protected")
    assert list(ModelVersion.objects.order_by("version").values_list("stage", flat=True)) == [
        "archived", "development"]


def test_other_teams_get_not_found_and_auditors_cannot_write(owner, client_for):
    create(owner)
    create_version(owner)
    outsider = client_for("other_engineer")
    assert_error(outsider.get(API + "registered-models/get", {"name": "credit-default"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(post(outsider, "registered-models/set-tag", {"name": "credit-default", "key": "k", "value": "v"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    auditor = client_for("auditor")
    before = AuditEvent.objects.count()
    for path, body, method in [
        ("registered-models/set-tag", {"name": "credit-default", "key": "k", "value": "v"}, "post"),
        ("registered-models/update", {"name": "credit-default", "description": "x"}, "patch"),
        ("model-versions/transition-stage", {"name": "credit-default", "version": "1", "stage": "Archived"}, "post"),
        ("registered-models/alias", {"name": "credit-default", "alias": "b", "version": "1"}, "post"),
        ("registered-models/create", {"name": "audit-made"}, "post"),
    ]:
        assert_error(post(auditor, path, body, method), 403, "PERMISSION_DENIED", "Auditors")
    assert AuditEvent.objects.count() == before
    assert auditor.get(API + "model-versions/get", {"name": "credit-default", "version": "1"}).status_code == 200


def test_pages_and_tokens_are_checked(owner):
    create(owner)
    assert_error(owner.get(API + "registered-models/search", {"page_token": "garbage"}), 400,
                 "INVALID_PARAMETER_VALUE", "page token")
    assert_error(owner.get(API + "registered-models/search", {"max_results": 5000}), 400,
                 "INVALID_PARAMETER_VALUE", "max_results")
    assert_error(owner.get(API + "model-versions/search", {"order_by": "size DESC"}), 400,
                 "INVALID_PARAMETER_VALUE", "order_by")


def test_search_query_count_does_not_grow_with_the_page(owner):
    def queries(path):
        owner.get(API + path)  # warm-up: token last-used stamp
        with CaptureQueriesContext(connection) as ctx:
            assert owner.get(API + path).status_code == 200
        return len(ctx.captured_queries)

    def grow(start, stop):
        for i in range(start, stop):
            create(owner, f"m{i}", tags=[{"key": "k", "value": str(i)}])
            create_version(owner, f"m{i}")
            create_version(owner, f"m{i}")
            post(owner, "registered-models/alias", {"name": f"m{i}", "alias": "best", "version": "1"})

    grow(0, 1)
    small = (queries("registered-models/search"), queries("model-versions/search"))
    grow(1, 5)
    assert (queries("registered-models/search"), queries("model-versions/search")) == small


def test_version_create_with_tags_costs_what_a_native_registration_does(
    owner, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    """At most 12 SQL statements, including what runs after commit (webhook fan-out): no
    savepoint per tag, one INSERT for all tags, one audit event, no re-read of the version."""
    create(owner)
    create_version(owner)  # warm-up: the token's last-used stamp
    tags = {"gatehouse.artifact_sha256": SHA_A, "trainer": "nightly", "team": "risk", "data": "v3"}
    with django_assert_max_num_queries(12), django_capture_on_commit_callbacks(execute=True):
        response = create_version(owner, tags=tags, run_id="r-9", description="nightly")
    assert response.status_code == 200, response.content
    body = response.json()["model_version"]
    assert body["version"] == "2" and body["run_id"] == "r-9" and body["aliases"] == []
    assert {t["key"]: t["value"] for t in body["tags"]} == tags
    assert body == owner.get(API + "model-versions/get",
                             {"name": "credit-default", "version": "2"}).json()["model_version"]
    assert AuditEvent.objects.filter(object_id=str(ModelVersion.objects.get(version=2).pk),
                                     object_type="registry.modelversion").count() == 1


def test_an_auditor_is_refused_before_any_input_is_read(owner, client_for):
    create(owner)
    auditor = client_for("auditor")
    before = AuditEvent.objects.count()
    for path, method in [("model-versions/create", "post"), ("registered-models/rename", "post"),
                         ("registered-models/delete", "delete"), ("model-versions/update", "patch"),
                         ("registered-models/alias", "post"), ("model-versions/set-tag", "post")]:
        # No parameters at all: an engineer would get a 400 naming the missing one.
        assert_error(post(auditor, path, {}, method), 403, "PERMISSION_DENIED", "Auditors")
        response = getattr(auditor, method)(API + path, "{not json", content_type="application/json")
        assert_error(response, 403, "PERMISSION_DENIED", "Auditors")
    assert_error(post(owner, "model-versions/create", {}), 400, "INVALID_PARAMETER_VALUE", "name")
    # Reads served on POST stay open to auditors.
    response = post(auditor, "registered-models/get-latest-versions", {"name": "credit-default"})
    assert response.status_code == 200 and response.json()["model_versions"] == []
    assert AuditEvent.objects.count() == before
