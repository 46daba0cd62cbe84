import pytest

from governance.models import AuditEvent
from registry.models import RegisteredModel
from tests import contract, factories

URL = "/api/v1/models/"


@pytest.fixture
def engineer(client_for):
    return client_for("engineer")


def test_anonymous_gets_401():
    contract.assert_anonymous_401(URL)


def test_engineer_registers_model_with_one_audit_event(engineer, personas):
    response, event = contract.assert_creates_one_audit_event(
        engineer, URL,
        {"name": "credit-default", "title": "Credit default", "developers": ["engineer2"],
         "intended_use": "Retail loan decisions", "tags": ["credit", "pd"]},
        "registry.model.registered",
    )
    body = response.json()
    assert body["team"] == "credit"
    assert body["owner"] == "engineer"
    assert body["developers"] == ["engineer2"]
    assert body["risk_tier"] is None and body["risk_tier_label"] == "unassessed"
    assert event.actor_name == "engineer"
    assert event.payload["after"]["team"] == "credit"
    assert RegisteredModel.objects.get(name="credit-default").intended_use == "Retail loan decisions"


def test_duplicate_name_is_409_naming_the_model(engineer):
    engineer.post(URL, {"name": "m1"}, format="json")
    response = engineer.post(URL, {"name": "m1"}, format="json")
    assert response.status_code == 409
    assert "m1" in response.json()["detail"]


def test_bad_slug_is_400_with_field_message(engineer):
    response = engineer.post(URL, {"name": "Not a slug!"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "name" in body["errors"]


def test_cannot_register_for_a_team_you_are_not_in(client_for, personas):
    response = client_for("other_engineer").post(URL, {"name": "x", "team": "credit"}, format="json")
    assert response.status_code == 403
    assert "owning team" in response.json()["detail"]
    assert not RegisteredModel.objects.filter(name="x").exists()


def test_auditor_cannot_write(client_for, personas):
    contract.assert_auditor_403(client_for("auditor"), URL, data={"name": "x"})
    factories.model(personas["engineer"])
    contract.assert_auditor_403(client_for("auditor"), URL + "credit-default/", method="patch",
                                data={"title": "new"})


def test_other_team_engineer_cannot_see_model(client_for, personas):
    factories.model(personas["engineer"])
    other = client_for("other_engineer")
    assert other.get(URL + "credit-default/").status_code == 404
    assert other.get(URL).json()["count"] == 0
    assert client_for("validator").get(URL).json()["count"] == 1
    assert client_for("auditor").get(URL + "credit-default/").status_code == 200


def test_patch_edits_and_audits_before_after(engineer, personas):
    factories.model(personas["engineer"], title="Old")
    response = engineer.patch(URL + "credit-default/", {"title": "New", "owner": "owner"}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "New"
    assert response.json()["owner"] == "owner"
    event = AuditEvent.objects.filter(action="registry.model.updated").get()
    assert event.payload["before"]["title"] == "Old"
    assert event.payload["after"] == {"title": "New", "owner": "owner"}


def test_patch_unknown_field_is_400(engineer, personas):
    factories.model(personas["engineer"])
    response = engineer.patch(URL + "credit-default/", {"name": "renamed"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_filters_team_tier_stage_search(client_for, personas):
    m1 = factories.model(personas["engineer"], name="alpha", description="credit scoring")
    factories.model(personas["other_engineer"], name="beta", team_name="fraud")
    RegisteredModel.objects.filter(pk=m1.pk).update(risk_tier=1)
    v = factories.version(personas["engineer"], m1)
    type(v).objects.filter(pk=v.pk).update(stage="production")
    validator = client_for("validator")
    names = lambda q: [m["name"] for m in validator.get(URL + q).json()["results"]]  # noqa: E731
    assert names("?team=fraud") == ["beta"]
    assert names("?risk_tier=1") == ["alpha"]
    assert names("?risk_tier=unassessed") == ["beta"]
    assert names("?stage=production") == ["alpha"]
    assert names("?search=scoring") == ["alpha"]
    assert names("?ordering=-name") == ["beta", "alpha"]


def test_list_query_count_is_bounded(client_for, personas):
    validator = client_for("validator")
    factories.model(personas["engineer"], name="m0", developers=["engineer2"])

    def grow():
        for i in range(1, 8):
            factories.model(personas["engineer"], name=f"m{i}", developers=["engineer2", "owner"])

    contract.assert_list_queries_bounded(validator, URL, grow)


def test_pagination(client_for, personas):
    for i in range(5):
        factories.model(personas["engineer"], name=f"m{i}")
    body = client_for("engineer").get(URL + "?page_size=2&page=2").json()
    assert body["count"] == 5
    assert [m["name"] for m in body["results"]] == ["m2", "m3"]
    assert body["next"] and body["previous"]


def test_openapi_schema_and_docs_are_served(client_for, personas):
    client = client_for("engineer")
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/models/{model_name}/versions/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_editing_a_model_keeps_the_version_numbers_handed_out_meanwhile(engineer, personas):
    from registry import services

    eng = personas["engineer"]
    stale = factories.model(eng)  # loaded before any version exists
    factories.version(eng, stale)
    factories.version(eng, stale)
    services.model_update(actor=eng, model=stale, changes={"title": "Renamed", "developers": ["engineer2"]})
    assert RegisteredModel.objects.get(name="credit-default").latest_version == 2
    assert factories.version(eng, stale).version == 3
    body = engineer.get(URL + "credit-default/").json()
    assert (body["title"], body["developers"], body["version_count"]) == ("Renamed", ["engineer2"], 3)
