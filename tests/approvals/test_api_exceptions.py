"""The policy exceptions API and the use restrictions API: wiring, permissions, bad input."""

import datetime as dt

import pytest
from django.utils import timezone

from approvals import exceptions
from approvals.models import PolicyException
from governance.models import AuditEvent
from tests import contract


def body(version, **kw):
    return {"model": version.model.name, "version": version.version, "gate": "shap",
            "reason": "The SHAP runner cannot load this format yet.",
            "compensating_controls": "Manual feature review; monthly drift job.",
            "expires_at": (timezone.now() + dt.timedelta(days=30)).isoformat(), **kw}


@pytest.fixture
def version(make_ready):
    return make_ready(tier=1, shap=False)


def test_request_creates_one_audit_event_and_shows_state(client_for, version):
    response, event = contract.assert_creates_one_audit_event(
        client_for("engineer"), "/api/v1/exceptions/", body(version), "approvals.exception.requested")
    data = response.json()
    assert (data["gate"], data["status"], data["state"]) == ("shap", "requested", "requested")
    assert data["approver_roles"] == ["validator", "compliance"]
    assert data["policy"].startswith("tier 1")
    assert event.actor_name == "engineer"


def test_expiry_past_the_maximum_is_a_400_naming_the_field_and_the_rule(client_for, version):
    too_late = (timezone.now() + dt.timedelta(days=91)).isoformat()
    response = client_for("engineer").post("/api/v1/exceptions/", body(version, expires_at=too_late),
                                           format="json")
    assert response.status_code == 400
    data = response.json()
    assert "exception_max_days" in data["errors"]["expires_at"][0]
    assert "at most 90 days" in data["detail"]
    assert not PolicyException.objects.exists()


def test_unknown_gate_is_a_400_listing_the_gates(client_for, version):
    response = client_for("engineer").post("/api/v1/exceptions/", body(version, gate="vibes"),
                                           format="json")
    assert response.status_code == 400
    message = response.json()["errors"]["gate"][0]
    assert "vibes" in message and "shap, fairness" in message


def test_waiving_the_risk_assessment_is_a_400_listing_the_waivable_gates(client_for, version):
    response = client_for("engineer").post(
        "/api/v1/exceptions/", body(version, gate="risk_assessment"), format="json")
    assert response.status_code == 400
    message = response.json()["errors"]["gate"][0]
    assert "(risk_assessment) cannot be waived" in message
    assert message.endswith(f"may waive one of: {', '.join(exceptions.waivable_gates())}.")
    assert "risk_assessment" not in message.split("may waive one of: ")[1]
    assert not PolicyException.objects.exists()


def test_requester_is_refused_with_a_403_that_says_so(client_for, personas, version):
    from governance import services as gov
    from governance.choices import Role

    gov.user_create(username="lead", roles=[Role.MODEL_OWNER, Role.VALIDATOR], teams=["credit"])
    model = version.model
    model.owner = personas["owner"].__class__.objects.get(username="lead")
    model.save(update_fields=["owner"])
    # client_for only knows the personas: make a token client for the lead by hand.
    from rest_framework.test import APIClient

    _, key = gov.token_create(user=model.owner)
    lead = APIClient()
    lead.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    exc = lead.post("/api/v1/exceptions/", body(version), format="json").json()
    response = lead.post(f"/api/v1/exceptions/{exc['id']}/decisions/",
                         {"decision": "approve", "role": "validator"}, format="json")
    assert response.status_code == 403
    assert "nobody decides on a policy exception they requested" in response.json()["detail"]
    assert response.json()["code"] == "segregation_of_duties"


def test_decisions_approve_and_the_readiness_shows_the_waiver(client_for, version):
    exc = client_for("engineer").post("/api/v1/exceptions/", body(version), format="json").json()
    for who in ("validator", "compliance"):
        response = client_for(who).post(f"/api/v1/exceptions/{exc['id']}/decisions/",
                                        {"decision": "approve", "role": who}, format="json")
        assert response.status_code == 201, response.content
    assert response.json()["status"] == "approved"
    assert response.json()["state"] == "active"
    ready = client_for("engineer").get(
        f"/api/v1/models/{version.model.name}/versions/{version.version}/readiness/").json()
    shap = next(i for i in ready["items"] if i["key"] == "shap")
    assert shap["met"] is True and shap["waived_by"] == exc["id"]
    assert shap["detail"].startswith(f"Waived by exception #{exc['id']} until ")


def test_register_filters_and_bounded_queries(client_for, personas, version, make_ready):
    now = timezone.now()
    active = exceptions.exception_request(
        actor=personas["engineer"], version=version, gate="shap", reason="r",
        compensating_controls="c", expires_at=now + dt.timedelta(days=30))
    soon = exceptions.exception_request(
        actor=personas["engineer"], version=version, gate="drift", reason="r",
        compensating_controls="c", expires_at=now + dt.timedelta(days=3))
    for exc in (active, soon):
        for who in ("validator", "compliance"):
            exceptions.exception_decide(actor=personas[who], exception_id=exc.pk,
                                        decision="approve", role=who)
    client = client_for("auditor")

    def ids(state):
        return [r["id"] for r in client.get(f"/api/v1/exceptions/?state={state}").json()["results"]]

    assert ids("active") == [soon.pk, active.pk]
    assert ids("expiring") == [soon.pk]
    assert ids("expired") == []
    exceptions.exceptions_expire_due(now=now + dt.timedelta(days=4))
    assert ids("expired") == [soon.pk]
    assert ids("active") == [active.pk]

    def grow():
        for i in range(5):
            v = make_ready(tier=1, shap=False, documentation=False, fairness=False)
            e = exceptions.exception_request(actor=personas["engineer"], version=v, gate="shap",
                                             reason="r", compensating_controls="c",
                                             expires_at=now + dt.timedelta(days=20 + i))
            exceptions.exception_decide(actor=personas["validator"], exception_id=e.pk,
                                        decision="approve", role="validator")

    contract.assert_list_queries_bounded(client, "/api/v1/exceptions/", grow)


def test_exceptions_contract(client_for, version):
    contract.assert_anonymous_401("/api/v1/exceptions/")
    contract.assert_auditor_403(client_for("auditor"), "/api/v1/exceptions/", data=body(version))
    exc = client_for("engineer").post("/api/v1/exceptions/", body(version), format="json").json()
    contract.assert_outsider_404(client_for("other_engineer"), f"/api/v1/exceptions/{exc['id']}/")
    assert client_for("other_engineer").get("/api/v1/exceptions/").json()["results"] == []


# --- use restrictions ---------------------------------------------------------------------


def test_use_restrictions_api(client_for, version):
    url = f"/api/v1/models/{version.model.name}/use-restrictions/"
    response, event = contract.assert_creates_one_audit_event(
        client_for("owner"), url,
        {"kind": "prohibited_use", "text": "Marketing eligibility", "expires_on": None},
        "oversight.use_restriction.recorded")
    rid = response.json()["id"]
    assert response.json()["expired"] is False
    bad = client_for("owner").post(url, {"kind": "vibes", "text": ""}, format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"kind", "text"}
    contract.assert_anonymous_401(url)
    contract.assert_auditor_403(client_for("auditor"), url, data={"kind": "geography", "text": "EU"})
    contract.assert_outsider_404(client_for("other_engineer"), url)
    assert [r["id"] for r in client_for("auditor").get(url).json()] == [rid]
    response = client_for("validator").post(f"{url}{rid}/withdraw/", {"reason": "Superseded"},
                                            format="json")
    assert response.status_code == 200 and response.json()["withdrawn_reason"] == "Superseded"
    assert client_for("auditor").get(url).json() == []
    assert len(client_for("auditor").get(url + "?withdrawn=1").json()) == 1
    assert AuditEvent.objects.filter(action="oversight.use_restriction.withdrawn").count() == 1
