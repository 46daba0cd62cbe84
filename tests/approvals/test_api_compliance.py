"""GET /api/v1/models/{name}/versions/{v}/compliance/: the summary of every framework, one
framework obligation by obligation, a 400 naming `framework` for an unknown one, and the usual
visibility (the contract tests over every route check 401/404 too)."""

from __future__ import annotations

import pytest

from tests import contract, factories

pytestmark = pytest.mark.django_db

URL = "/api/v1/models/credit-default/versions/1/compliance/"


@pytest.fixture
def version(personas):
    eng = personas["engineer"]
    return factories.version(eng, factories.model(eng, owner="owner", intended_use="Loans."))


def test_without_framework_every_frameworks_counts_and_no_obligations(version, client_for):
    response = client_for("engineer").get(URL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["model"], body["version"], body["crosswalk_version"]) == ("credit-default", 1, 2)
    assert [f["framework"] for f in body["frameworks"]] == [
        "eu-ai-act", "sr11-7", "ss1-23", "nist-ai-rmf", "iso-42001"]
    for f in body["frameworks"]:
        assert "obligations" not in f
        assert sum(f["counts"].values()) > 0 and f["all_met"] is False
    nist = next(f for f in body["frameworks"] if f["framework"] == "nist-ai-rmf")
    assert nist["counts"]["not_applicable"] == 4  # the organisation-wide controls


def test_one_framework_obligation_by_obligation_with_evidence(version, client_for):
    response = client_for("auditor").get(URL + "?framework=ss1-23")
    assert response.status_code == 200, response.content
    [framework] = response.json()["frameworks"]
    assert framework["framework"] == "ss1-23"
    inventory = next(o for o in framework["obligations"] if o["id"] == "p1-inventory")
    assert inventory["status"] == "met"
    assert [e["source"] for e in inventory["evidence"]] == ["field:model.owner",
                                                           "field:model.intended_use"]
    link = inventory["evidence"][1]["links"][0]
    assert set(link) == {"label", "url", "sha256"} and len(link["sha256"]) == 64
    tiering = next(o for o in framework["obligations"] if o["id"] == "p1-tiering")
    assert tiering["status"] == "missing" and tiering["todo"]


def test_an_unknown_framework_is_a_400_naming_the_field_and_the_valid_names(version, client_for):
    response = client_for("engineer").get(URL + "?framework=gdpr")
    assert response.status_code == 400
    body = response.json()
    expected = ("framework must be one of eu-ai-act, sr11-7, ss1-23, nist-ai-rmf, iso-42001 "
                "(not 'gdpr').")
    assert body["errors"] == {"framework": [expected]}
    assert body["detail"] == expected


def test_another_teams_engineer_cannot_see_it(version, client_for):
    contract.assert_outsider_404(client_for("other_engineer"), URL)
    contract.assert_anonymous_401(URL)


def test_the_schema_documents_the_framework_parameter_and_the_shape(client_for):
    response = client_for("engineer").get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    op = schema["paths"]["/api/v1/models/{model_name}/versions/{version}/compliance/"]["get"]
    [param] = [p for p in op["parameters"] if p["name"] == "framework"]
    assert sorted(param["schema"]["enum"]) == ["eu-ai-act", "iso-42001", "nist-ai-rmf", "sr11-7", "ss1-23"]
    obligation = schema["components"]["schemas"]["ComplianceObligationOutput"]
    assert {"id", "status", "reason", "todo", "evidence"} <= set(obligation["properties"])
