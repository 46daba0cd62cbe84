"""The incident and monitoring-plan API: wiring, permissions, bad input (400 naming the field
and the rule), exports, and bounded list queries."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from governance.models import AuditEvent
from oversight.models import Incident, MonitoringPlan
from tests import contract, factories

URL = "/api/v1/incidents/"


@pytest.fixture
def model(personas):
    return factories.model(personas["engineer"], owner="owner")


def _iso(delta: dt.timedelta) -> str:
    return (timezone.now() + delta).isoformat()


def _body(**kw):
    body = {"model": "credit-default", "title": "Wrongful denials", "description": "40 refused.",
            "occurred_at": _iso(-dt.timedelta(days=2)), "became_known_at": _iso(-dt.timedelta(days=1)),
            "affected_persons": 40, "serious": True, "seriousness": "death"}
    body.update(kw)
    return body


def test_report_writes_one_audit_event_and_shows_the_deadline(client_for, model):
    response, event = contract.assert_creates_one_audit_event(
        client_for("engineer"), URL, _body(), "oversight.incident.reported")
    body = response.json()
    assert body["serious"] and body["seriousness"] == "death" and body["clock_days"] == 10
    assert body["status"] == "reported" and body["blocks_promotion"] and not body["overdue"]
    known = dt.datetime.fromisoformat(body["became_known_at"])
    assert dt.datetime.fromisoformat(body["deadline_at"]) == known + dt.timedelta(days=10)
    assert event.actor_name == "engineer"


@pytest.mark.parametrize("field", ["occurred_at", "became_known_at"])
def test_a_future_date_is_400_naming_the_field_and_the_rule(client_for, model, field):
    response = client_for("engineer").post(URL, _body(**{field: _iso(dt.timedelta(hours=1))}),
                                           format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"] and "must not be in the future" in body["errors"][field][0].lower()
    assert field in body["detail"]
    assert Incident.objects.count() == 0


def test_known_before_occurred_is_400(client_for, model):
    response = client_for("engineer").post(URL, _body(occurred_at=_iso(-dt.timedelta(hours=1)),
                                                      became_known_at=_iso(-dt.timedelta(hours=2))),
                                           format="json")
    assert response.status_code == 400
    assert "before the incident occurred" in response.json()["errors"]["became_known_at"][0]


def test_unknown_seriousness_is_400_listing_the_kinds(client_for, model):
    response = client_for("engineer").post(URL, _body(seriousness="meh"), format="json")
    assert response.status_code == 400
    assert "widespread-infringement" in response.json()["errors"]["seriousness"][0]


def test_contract_anonymous_auditor_outsider(client_for, model):
    incident_id = client_for("engineer").post(URL, _body(), format="json").json()["id"]
    contract.assert_anonymous_401(URL)
    contract.assert_auditor_403(client_for("auditor"), URL, data=_body())
    contract.assert_auditor_403(client_for("auditor"), f"{URL}{incident_id}/transition/",
                                data={"status": "investigating"})
    contract.assert_outsider_404(client_for("other_engineer"), f"{URL}{incident_id}/")
    assert client_for("auditor").get(f"{URL}{incident_id}/").status_code == 200
    assert client_for("other_engineer").get(URL).json()["count"] == 0


def test_transitions_through_the_api(client_for, model):
    client = client_for("compliance")
    incident_id = client_for("engineer").post(URL, _body(), format="json").json()["id"]
    r = client.post(f"{URL}{incident_id}/transition/", {"status": "closed", "resolution": "x"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    r = client.post(f"{URL}{incident_id}/transition/", {"status": "reported_to_authority"}, format="json")
    assert r.status_code == 400 and "authority_reference" in r.json()["errors"]
    r = client.post(f"{URL}{incident_id}/transition/",
                    {"status": "reported_to_authority", "authority_reference": "MSA-9"}, format="json")
    assert r.status_code == 200 and r.json()["authority_reported_at"]
    r = client.post(f"{URL}{incident_id}/transition/", {"status": "closed", "resolution": "Fixed."},
                    format="json")
    assert r.status_code == 200 and r.json()["status"] == "closed" and not r.json()["blocks_promotion"]
    assert client.get(URL + "?open=true").json()["count"] == 0


def test_overdue_filter(client_for, model):
    client = client_for("engineer")
    client.post(URL, _body(seriousness="widespread-infringement",
                           occurred_at=_iso(-dt.timedelta(days=4)),
                           became_known_at=_iso(-dt.timedelta(days=3))), format="json")
    client.post(URL, _body(), format="json")
    rows = client.get(URL + "?overdue=true").json()["results"]
    assert [r["seriousness"] for r in rows] == ["widespread-infringement"] and rows[0]["overdue"]


def test_export_json_and_pdf(client_for, model):
    incident_id = client_for("engineer").post(URL, _body(), format="json").json()["id"]
    client = client_for("auditor")
    r = client.get(f"{URL}{incident_id}/export/?format=json")
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    record = json.loads(r.content)
    assert record["schema"] == "gatehouse.incident-report/1"
    assert record["incident"]["seriousness"]["legal_basis"] == "EU AI Act Art. 73(4)"
    assert record["provider"]["model"] == "credit-default"
    assert [h["action"] for h in record["history"]] == ["oversight.incident.reported"]
    r = client.get(f"{URL}{incident_id}/export/?format=pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    r = client.get(f"{URL}{incident_id}/export/?format=docx")
    assert r.status_code == 400 and "format" in r.json()["errors"]


def test_incident_list_queries_bounded(client_for, personas, model):
    client = client_for("engineer")
    client.post(URL, _body(), format="json")

    def grow():
        for i in range(5):
            client.post(URL, _body(title=f"Incident {i}", serious=i % 2 == 0,
                                   seriousness="death" if i % 2 == 0 else None), format="json")

    contract.assert_list_queries_bounded(client_for("compliance"), URL, grow)


def test_monitoring_plan_put_and_get(client_for, model):
    url = "/api/v1/models/credit-default/monitoring-plan/"
    client = client_for("owner")
    assert client.get(url).status_code == 404
    plan = {"responsible": "engineer", "cadence_days": 30,
            "thresholds": [{"metric": "drift.max_psi", "direction": "above", "threshold": 0.25}]}
    before = AuditEvent.objects.count()
    r = client.put(url, plan, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["thresholds"][0]["metric"] == "drift.max_psi" and r.json()["responsible"] == "engineer"
    assert list(AuditEvent.objects.filter(seq__gt=before).values_list("action", flat=True)) == [
        "oversight.monitoring_plan.saved"]
    assert client_for("auditor").get(url).status_code == 200
    contract.assert_auditor_403(client_for("auditor"), url, method="put", data=plan)
    contract.assert_outsider_404(client_for("other_engineer"), url)
    r = client.put(url, {**plan, "cadence_days": 0}, format="json")
    assert r.status_code == 400 and "cadence_days" in r.json()["errors"]
    r = client.put(url, {**plan, "thresholds": [{"metric": "accuracy", "threshold": 1}]}, format="json")
    assert r.status_code == 400 and "thresholds" in r.json()["errors"]
    r = client.put(url, {**plan, "responsible": "nobody"}, format="json")
    assert r.status_code == 400 and "responsible" in r.json()["errors"]
    assert MonitoringPlan.objects.count() == 1
    assert client.get("/api/v1/models/credit-default/monitoring-crossings/").json()["count"] == 0


def test_documentation_pack_and_model_card_carry_the_plan_and_incidents(client_for, personas, model):
    from oversight import export
    from oversight import services as ov_services

    version = factories.version(personas["engineer"], model)
    client_for("engineer").post(URL, _body(), format="json")
    ov_services.monitoring_plan_save(
        actor=personas["owner"], model=model, responsible=personas["engineer"], cadence_days=30,
        thresholds=[{"metric": "drift.max_psi", "direction": "above", "threshold": 0.25}])
    html = export.render_pack_html(version, [])
    assert 'data-testid="pack-monitoring"' in html and 'data-testid="pack-incidents"' in html
    assert "Wrongful denials" in html and "Largest feature PSI" in html
    card = client_for("validator").get(
        f"/api/v1/models/{model.name}/versions/{version.version}/documentation-pack/?format=json").json()
    assert card["post_market_monitoring"]["thresholds"][0]["metric"] == "drift.max_psi"
    assert [(i["title"], i["seriousness"]) for i in card["incidents"]] == [("Wrongful denials", "death")]


def test_affected_persons_beyond_the_column_is_400_not_500(client_for, model):
    r = client_for("engineer").post(URL, _body(affected_persons=2_147_483_648), format="json")
    assert r.status_code == 400, r.content
    assert "affected_persons" in r.json()["errors"] and "2147483647" in r.json()["detail"]
    assert Incident.objects.count() == 0
    r = client_for("engineer").post(URL, _body(affected_persons=2_147_483_647), format="json")
    assert r.status_code == 201 and r.json()["affected_persons"] == 2_147_483_647


def test_owning_team_cannot_report_or_close_a_serious_incident(client_for, model):
    engineer, compliance = client_for("engineer"), client_for("compliance")
    incident_id = engineer.post(URL, _body(), format="json").json()["id"]
    move = f"{URL}{incident_id}/transition/"
    assert engineer.post(move, {"status": "investigating", "note": "On it."},
                         format="json").status_code == 200
    for body in ({"status": "reported_to_authority", "authority_reference": "MSA-1"},
                 {"status": "closed", "resolution": "Fixed."}):
        r = client_for("owner").post(move, body, format="json")
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        assert "Only validators, compliance or admins may report a serious incident" in r.json()["detail"]
    assert engineer.get(f"{URL}{incident_id}/").json()["blocks_promotion"]
    assert compliance.post(move, {"status": "reported_to_authority", "authority_reference": "MSA-1"},
                           format="json").status_code == 200


def test_reclassify_through_the_api(client_for, model):
    incident = client_for("engineer").post(URL, _body(serious=False, seriousness=None),
                                           format="json").json()
    url = f"{URL}{incident['id']}/reclassify/"
    upgrade = {"serious": True, "seriousness": "death", "reason": "An applicant died."}
    contract.assert_auditor_403(client_for("auditor"), url, data=upgrade)
    r = client_for("engineer").post(url, upgrade, format="json")
    assert r.status_code == 403 and "reclassify" in r.json()["detail"]
    compliance = client_for("compliance")
    r = compliance.post(url, {**upgrade, "reason": ""}, format="json")
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    r = compliance.post(url, {**upgrade, "seriousness": "meh"}, format="json")
    assert r.status_code == 400 and "death" in r.json()["errors"]["seriousness"][0]
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    r = compliance.post(url, upgrade, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["serious"] and body["seriousness"] == "death" and body["blocks_promotion"]
    known = dt.datetime.fromisoformat(body["became_known_at"])
    assert dt.datetime.fromisoformat(body["deadline_at"]) == known + dt.timedelta(days=10)
    [event] = AuditEvent.objects.filter(seq__gt=before)
    assert event.action == "oversight.incident.reclassified" and event.payload["after"]["clock_days"] == 10
    r = compliance.post(url, upgrade, format="json")
    assert r.status_code == 400 and "already classified serious (death)" in r.json()["detail"]
    contract.assert_outsider_404(client_for("other_engineer"), url, method="post", data=upgrade)


def test_monitoring_plan_put_refuses_loosening_and_invisible_responsible(client_for, model):
    url = "/api/v1/models/credit-default/monitoring-plan/"
    plan = {"responsible": "engineer", "cadence_days": 30,
            "thresholds": [{"metric": "drift.max_psi", "direction": "above", "threshold": 0.25}]}
    assert client_for("validator").put(url, plan, format="json").status_code == 200
    looser = {**plan, "thresholds": [{**plan["thresholds"][0], "threshold": 0.4}]}
    r = client_for("owner").put(url, looser, format="json")
    assert r.status_code == 403 and "drift.max_psi would alert above 0.4 instead of 0.25" in r.json()["detail"]
    r = client_for("owner").put(url, {**plan, "responsible": "other_engineer"}, format="json")
    assert r.status_code == 400 and "cannot see credit-default" in r.json()["errors"]["responsible"][0]
    assert client_for("compliance").put(url, looser, format="json").status_code == 200
    assert client_for("owner").get(url).json()["thresholds"][0]["threshold"] == 0.4
