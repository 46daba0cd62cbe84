"""Model and version payloads are the same wherever they appear (create, get, list, patch), and the
hand-written rendering the list pages use says exactly what DRF's generic one would."""

import datetime as dt

import pytest
from django.db import transaction
from rest_framework import serializers

from registry import selectors, services
from registry.api.serializers import ModelOutput, VersionOutput
from registry.models import ModelVersion, RegisteredModel
from tests import factories

MODELS = "/api/v1/models/"


@pytest.fixture
def populated(personas):
    """A model with every field filled, and versions with each edge kind and both artifact kinds."""
    eng = personas["engineer"]
    parent = factories.model(eng, name="base-model")
    factories.version(eng, parent)
    model = factories.model(
        eng, name="credit-default", title="Credit default", description="PD model",
        developers=["engineer2", "engineer"], business_use_case="Retail loans",
        intended_use="Decisions", limitations="Thin files", tags=["pd", "credit"],
    )
    RegisteredModel.objects.filter(pk=model.pk).update(
        risk_tier=1, eu_ai_act_class="high", next_review_date=dt.date(2027, 1, 31)
    )
    ds = factories.dataset(eng)
    factories.dataset_version(eng, ds)
    factories.dataset_version(eng, ds)
    factories.version(
        eng, model, training_datasets=["loans@2", "loans@1"], evaluation_datasets=["loans@2"],
        parents=["base-model@1"], framework="scikit-learn", hyperparameters={"C": 1.0},
        metrics={"auc": 0.8}, environment={"python": "3.11"}, tags=["b", "a"],
        signature={"inputs": [{"name": "income", "type": "double"}]}, description="first",
    )
    v2 = services.model_version_register(
        actor=eng, model=model, artifact_uri="s3://m/v2.onnx", artifact_sha256="c" * 64,
    )
    with transaction.atomic():
        services.set_stage(version=v2, stage="staging", actor=eng, reason="test")
    return model


def _generic(serializer_class, obj) -> dict:
    """What DRF's field-by-field rendering says for `obj`."""
    return serializers.ModelSerializer.to_representation(serializer_class(), obj)


def test_hand_written_rendering_equals_drf_generic_rendering(populated, personas):
    model = selectors.with_developer_names(
        list(selectors.model_list_for_user(personas["engineer"]).filter(name="credit-default"))
    )[0]
    assert ModelOutput(model).data == _generic(ModelOutput, model)
    assert ModelOutput(model).data["developers"] == ["engineer", "engineer2"]
    assert ModelOutput(model).data["next_review_date"] == "2027-01-31"
    versions = selectors.with_lineage_refs(list(selectors.version_rows(populated)))
    assert len(versions) == 2
    for version in versions:
        rendered = VersionOutput(version).data
        assert rendered == _generic(VersionOutput, version)
        assert set(rendered) == set(VersionOutput.Meta.fields)
    v1 = VersionOutput(versions[1]).data
    assert v1["training_datasets"] == ["loans@1", "loans@2"]
    assert v1["evaluation_datasets"] == ["loans@2"] and v1["parents"] == ["base-model@1"]
    assert v1["artifact_size"] == len(factories.skops_bytes())
    assert VersionOutput(versions[0]).data["stage_changed_at"].endswith("Z")


def test_model_payload_is_the_same_in_list_get_and_patch(client_for, populated):
    client = client_for("engineer")
    listed = {m["name"]: m for m in client.get(MODELS).json()["results"]}
    got = client.get(MODELS + "credit-default/").json()
    assert listed["credit-default"] == got
    assert got["version_count"] == 2 and listed["base-model"]["version_count"] == 1
    assert got["risk_tier_label"] == "Tier 1" and got["owner"] == "engineer"
    patched = client.patch(MODELS + "credit-default/", {"title": "New"}, format="json").json()
    assert patched == {**got, "title": "New", "updated_at": patched["updated_at"]}


def test_registration_response_is_what_a_later_get_returns(client_for, populated):
    client = client_for("engineer")
    url = MODELS + "credit-default/versions/"
    created = client.post(url, {
        "artifact_uri": "s3://m/v3.onnx", "artifact_sha256": "d" * 64,
        "training_datasets": ["loans@1"], "evaluation_datasets": ["loans@2", "loans@1"],
        "parents": ["credit-default@2", "base-model@1"], "metrics": {"auc": 0.9},
    }, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["version"] == 3
    assert body["parents"] == ["base-model@1", "credit-default@2"]
    assert body["evaluation_datasets"] == ["loans@1", "loans@2"]
    assert client.get(url + "3/").json() == body
    listed = client.get(url).json()["results"]
    assert [v["version"] for v in listed] == [3, 2, 1]
    assert listed[0] == body
    assert client.get(MODELS + "credit-default/").json()["version_count"] == 3


def test_a_refused_registration_hands_out_no_number(client_for, populated):
    client = client_for("engineer")
    url = MODELS + "credit-default/versions/"
    bad = client.post(url, {"artifact_uri": "s3://m/x.onnx", "artifact_sha256": "e" * 64,
                            "parents": ["nope@1"]}, format="json")
    assert bad.status_code == 400
    ok = client.post(url, {"artifact_uri": "s3://m/x.onnx", "artifact_sha256": "e" * 64}, format="json")
    assert ok.json()["version"] == 3
    assert RegisteredModel.objects.get(name="credit-default").latest_version == 3


def test_a_get_says_what_the_ordinary_reads_render_for_every_kind_of_version(
    client_for, populated, personas
):
    """The GET's own statement (version_for_api) against the ordinary reads and DRF's generic
    rendering, key for key and in order: a version with every edge kind, an uploaded artifact,
    tags and JSON fields; one by URI only that changed stage; one with two parents and no author
    left (created_by is null)."""
    eng = personas["engineer"]
    v3 = services.model_version_register(
        actor=eng, model=populated, artifact_uri="s3://m/v3.onnx", artifact_sha256="d" * 64,
        parents=["credit-default@2", "base-model@1"], evaluation_datasets=["loans@1"],
    )
    ModelVersion.objects.filter(pk=v3.pk).update(created_by=None)
    client = client_for("engineer")
    for number in (1, 2, 3):
        ordinary = selectors.with_lineage_refs(
            [selectors.version_get(populated, number, queryset=selectors.version_rows(populated))]
        )[0]
        expected = _generic(VersionOutput, ordinary)
        response = client.get(f"{MODELS}credit-default/versions/{number}/")
        assert response.status_code == 200
        assert list(response.json().items()) == list(expected.items())
        direct = selectors.version_for_api(eng, "credit-default", number)
        assert list(VersionOutput(direct).data.items()) == list(expected.items())
        assert VersionOutput(direct).data == _generic(VersionOutput, direct)
    got = [client.get(f"{MODELS}credit-default/versions/{n}/").json() for n in (1, 2, 3)]
    assert got[0]["training_datasets"] == ["loans@1", "loans@2"]
    assert got[0]["parents"] == ["base-model@1"] and got[0]["tags"] == ["a", "b"]
    assert got[0]["artifact_size"] == len(factories.skops_bytes())
    assert got[1]["artifact_size"] is None and got[1]["stage"] == "staging"
    assert got[1]["stage_changed_at"].endswith("Z") and got[0]["stage_changed_at"] is None
    assert got[2]["created_by"] is None and got[2]["created_at"].endswith("Z")
    assert got[2]["parents"] == ["base-model@1", "credit-default@2"]
    assert got[2]["evaluation_datasets"] == ["loans@1"] and got[2]["training_datasets"] == []


def test_a_version_read_for_the_api_defers_what_it_did_not_read(populated, personas):
    """The related rows of version_for_api hold what the rendering needs; any other field is
    loaded on reading it (as with .only()), never a made-up default."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    version = selectors.version_for_api(personas["engineer"], "credit-default", 1)
    with CaptureQueriesContext(connection) as ctx:
        assert version.model.name == "credit-default"
        assert version.created_by.username == "engineer"
        assert version.artifact.size == len(factories.skops_bytes())
    assert not ctx.captured_queries
    assert version.model.title == "Credit default"  # loaded, not a blank default
    assert version.model.team.name == "credit"
    assert version.artifact.sha256 == version.artifact_sha256
