from approvals.models import PromotionRequest
from tests import contract

URL = "/api/v1/promotions/"


def _create(client, version, stage="production"):
    return client.post(URL, {"model": version.model.name, "version": version.version,
                             "target_stage": stage, "justification": "Ready for release."}, format="json")


def test_create_returns_201_with_roles_gates_and_actions(client_for, make_ready):
    version = make_ready(tier=1)
    response = _create(client_for("engineer"), version)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "open"
    assert sorted(body["required_roles"]) == ["business_approver", "compliance", "validator"]
    assert body["gate_report"]["passed"] is True
    assert body["policy"]["tier"] == 1
    assert body["allowed_actions"]["withdraw"] is True
    assert body["allowed_actions"]["decide_as"] == []
    assert "do not hold the role" in body["allowed_actions"]["decide_refusals"]["validator"]


def test_validator_sees_decide_action_and_decides(client_for, make_ready):
    version = make_ready(tier=1)
    req_id = _create(client_for("engineer"), version).json()["id"]
    validator = client_for("validator")
    detail = validator.get(f"{URL}{req_id}/").json()
    assert detail["allowed_actions"]["decide_as"] == ["validator"]
    response = validator.post(f"{URL}{req_id}/decisions/",
                              {"decision": "approve", "role": "validator", "comment": "Sound."}, format="json")
    assert response.status_code == 201
    assert response.json()["approvals_missing"] == ["compliance", "business_approver"] or sorted(
        response.json()["approvals_missing"]) == ["business_approver", "compliance"]


def test_sod_refusal_is_403_with_sentence(client_for, make_ready):
    version = make_ready(tier=1)
    req_id = _create(client_for("engineer"), version).json()["id"]
    response = client_for("engineer").post(f"{URL}{req_id}/decisions/", {"decision": "approve", "role": "validator"},
                                           format="json")
    assert response.status_code == 403
    assert "role 'validator'" in response.json()["detail"]


def test_invalid_transition_is_409_naming_state(client_for, make_ready):
    version = make_ready(tier=1)
    engineer = client_for("engineer")
    req_id = _create(engineer, version).json()["id"]
    assert engineer.post(f"{URL}{req_id}/withdraw/", {}, format="json").status_code == 200
    response = engineer.post(f"{URL}{req_id}/withdraw/", {}, format="json")
    assert response.status_code == 409
    assert "is withdrawn" in response.json()["detail"]


def test_no_assessment_is_400(client_for, personas):
    from tests import factories

    model = factories.model(personas["engineer"], developers=["engineer"])
    factories.version(personas["engineer"], model)
    response = client_for("engineer").post(URL, {"model": model.name, "version": 1, "target_stage": "production",
                                                  "justification": "x"}, format="json")
    assert response.status_code == 400
    assert "no risk assessment" in response.json()["detail"]


def test_list_filters_and_inbox_filter(client_for, make_ready):
    version = make_ready(tier=1)
    _create(client_for("engineer"), version)
    validator = client_for("validator")
    assert validator.get(URL + "?awaiting_role=validator").json()["count"] == 1
    assert validator.get(URL + "?state=executed").json()["count"] == 0
    assert client_for("other_engineer").get(URL).json()["count"] == 0


def test_readiness_dry_run(client_for, make_ready):
    version = make_ready(tier=1, fairness=False)
    url = f"/api/v1/models/{version.model.name}/versions/{version.version}/readiness/?target_stage=production"
    body = client_for("engineer").get(url).json()
    assert body["ready"] is False
    items = {i["key"]: i for i in body["items"]}
    assert items["shap"]["met"] and items["documentation"]["met"] and items["risk_assessment"]["met"]
    assert items["fairness"]["met"] is False
    staging = client_for("engineer").get(url.replace("production", "staging")).json()
    assert staging["ready"] is True and staging["required_roles"] == ["validator"]
    assert client_for("engineer").get(url.replace("production", "moon")).status_code == 400


def test_contract(client_for, make_ready, personas):
    contract.assert_anonymous_401(URL)
    version = make_ready(tier=1)
    contract.assert_auditor_403(client_for("auditor"), URL, data={"model": version.model.name, "version": 1,
                                                                  "target_stage": "production", "justification": "x"})
    response, event = contract.assert_creates_one_audit_event(
        client_for("engineer"), URL, {"model": version.model.name, "version": version.version,
                                      "target_stage": "staging", "justification": "x"},
        "approvals.promotion.requested")
    auditor = client_for("auditor")
    req_id = response.json()["id"]
    assert auditor.get(f"{URL}{req_id}/").json()["allowed_actions"]["decide_as"] == []
    contract.assert_auditor_403(auditor, f"{URL}{req_id}/decisions/", data={"decision": "approve", "role": "validator"})
    validator = client_for("validator")

    def grow():
        for i in range(4):
            v = make_ready(tier=1, name=f"m{i}")
            _create(client_for("engineer"), v, stage="staging")

    contract.assert_list_queries_bounded(validator, URL, grow)
    assert PromotionRequest.objects.count() == 5


def test_rollback_endpoint(client_for, make_ready):
    version = make_ready(tier=3, name="low")
    engineer = client_for("engineer")
    req_id = _create(engineer, version).json()["id"]
    client_for("validator").post(f"{URL}{req_id}/decisions/", {"decision": "approve", "role": "validator"},
                                 format="json")
    url = f"/api/v1/models/low/versions/{version.version}/rollback/"
    assert engineer.post(url, {"reason": "x"}, format="json").status_code == 403
    assert client_for("validator").post(url, {}, format="json").status_code == 400
    response = client_for("validator").post(url, {"reason": "Bad outcomes on new segment"}, format="json")
    assert response.status_code == 200 and response.json()["stage"] == "archived"


def test_notifications_inbox(client_for, make_ready):
    version = make_ready(tier=1)
    _create(client_for("engineer"), version)
    validator = client_for("validator")
    notes = validator.get("/api/v1/notifications/?unread=1").json()
    assert notes["count"] == 1 and "Approval needed" in notes["results"][0]["subject"]
    note_id = notes["results"][0]["id"]
    assert validator.post(f"/api/v1/notifications/{note_id}/read/").status_code == 200
    assert validator.post("/api/v1/notifications/999999/read/").status_code == 404
    assert validator.get("/api/v1/notifications/?unread=1").json()["count"] == 0
