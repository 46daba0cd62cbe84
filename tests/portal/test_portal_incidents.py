"""Post-market monitoring and incidents in the portal: the model page block, the monitoring plan
form, reporting an incident (bad dates shown next to their field), moving it to closure, the
register and the dashboard's overdue list (bounded queries)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.models import AuditEvent
from oversight import services as ov_services
from oversight.models import Incident, MonitoringPlan
from tests.portal.conftest import write_forms

pytestmark = pytest.mark.django_db


def _local(delta: dt.timedelta) -> str:
    return (timezone.now() + delta).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _report(personas, model, *, days_ago=1, kind="death", title="Wrongful denials"):
    known = timezone.now() - dt.timedelta(days=days_ago)
    return ov_services.incident_report(
        actor=personas["engineer"], model=model, title=title, description="40 refused.",
        occurred_at=known - dt.timedelta(hours=1), became_known_at=known, affected_persons=40,
        serious=kind is not None, seriousness=kind,
    )


def test_model_page_shows_the_block_and_links(web_for, registry, personas):
    _report(personas, registry["base"])
    page = web_for("engineer").get("/models/credit-default/").content.decode()
    assert 'data-testid="monitoring-section"' in page
    assert "Wrongful denials" in page and 'data-testid="incident-blocks"' in page
    assert 'href="/models/credit-default/incidents/new/"' in page
    auditor_page = web_for("auditor").get("/models/credit-default/").content.decode()
    assert "Wrongful denials" in auditor_page and "/incidents/new/" not in auditor_page


def test_report_form_refuses_a_future_date_next_to_the_field(web_for, registry):
    web = web_for("engineer")
    assert web.get("/models/credit-default/incidents/new/").status_code == 200
    response = web.post("/models/credit-default/incidents/new/", {
        "title": "Outage", "description": "Scores missing.", "occurred_at": _local(dt.timedelta(hours=-1)),
        "became_known_at": _local(dt.timedelta(hours=2)), "affected_persons": "0",
    })
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_became_known_at-error"' in html and "Must not be in the future" in html
    assert Incident.objects.count() == 0


def test_report_then_close_through_the_pages(web_for, registry):
    web = web_for("engineer")
    response = web.post("/models/credit-default/incidents/new/", {
        "title": "Wrongful denials", "description": "A cut-off error refused 40 applicants.",
        "occurred_at": _local(dt.timedelta(hours=-3)), "became_known_at": _local(dt.timedelta(hours=-2)),
        "affected_persons": "40", "serious": "on", "seriousness": "serious-harm",
    }, follow=True)
    incident = Incident.objects.get()
    assert response.redirect_chain[-1][0] == f"/incidents/{incident.pk}/"
    html = response.content.decode()
    assert 'data-testid="incident-deadline"' in html and "(15 days after it became known)" in html
    assert f"/api/v1/incidents/{incident.pk}/export/?format=pdf" in html
    url = f"/incidents/{incident.pk}/transition/"
    compliance = web_for("compliance")  # a serious incident: the second line reports and closes
    refused = compliance.post(url, {"to_status": "reported_to_authority"})
    assert refused.status_code == 400 and "authority&#x27;s reference" in refused.content.decode()
    compliance.post(url, {"to_status": "reported_to_authority", "authority_reference": "MSA-7"})
    compliance.post(url, {"to_status": "closed", "resolution": "Cut-off corrected."})
    incident.refresh_from_db()
    assert incident.status == "closed"
    assert AuditEvent.objects.filter(action="oversight.incident.transitioned").count() == 2


def test_auditor_sees_the_incident_but_no_write_form(web_for, registry, personas):
    incident = _report(personas, registry["base"])
    html = web_for("auditor").get(f"/incidents/{incident.pk}/").content.decode()
    assert "Wrongful denials" in html and write_forms(html) == []
    assert web_for("auditor").post(f"/incidents/{incident.pk}/transition/",
                                   {"to_status": "investigating"}).status_code == 403
    assert web_for("other_engineer").get(f"/incidents/{incident.pk}/").status_code == 404


def test_monitoring_plan_form_saves_the_plan(web_for, registry):
    web = web_for("owner")
    page = web.get("/models/credit-default/monitoring/").content.decode()
    assert 'data-testid="plan-form"' in page and 'data-testid="no-plan"' in page
    response = web.post("/models/credit-default/monitoring/", {
        "responsible": "engineer", "cadence_days": "14", "notes": "Weekly drift.",
        "watch_0": "on", "direction_0": "above", "threshold_0": "0.25", "severity_0": "high",
        "direction_1": "above", "severity_1": "high", "direction_2": "below", "threshold_2": "0.7",
        "watch_2": "on", "severity_2": "medium", "direction_3": "below", "severity_3": "high",
        "direction_4": "above", "severity_4": "high",
    }, follow=True)
    assert response.status_code == 200
    plan = MonitoringPlan.objects.get()
    assert plan.cadence_days == 14 and plan.responsible.username == "engineer"
    assert sorted(t.metric for t in plan.thresholds.all()) == ["drift.max_psi", "outcome.accuracy"]
    assert 'data-testid="thresholds"' in response.content.decode()
    auditor = web_for("auditor").get("/models/credit-default/monitoring/").content.decode()
    assert write_forms(auditor) == [] and "Auditors have read-only access" in auditor


def test_a_watched_metric_without_a_threshold_is_refused(web_for, registry):
    response = web_for("owner").post("/models/credit-default/monitoring/", {
        "responsible": "engineer", "cadence_days": "14", "watch_0": "on", "direction_0": "above",
        "severity_0": "high", **{f"{k}_{i}": v for i in range(1, 5)
                                for k, v in (("direction", "above"), ("severity", "high"))},
    })
    assert response.status_code == 400 and "thresholds[0].threshold" in response.content.decode()
    assert MonitoringPlan.objects.count() == 0


def test_dashboard_lists_overdue_incidents_with_bounded_queries(web_for, registry, personas):
    _report(personas, registry["base"], days_ago=3, kind="widespread-infringement", title="Overdue one")
    _report(personas, registry["base"], days_ago=1, kind="death", title="In time")
    web = web_for("compliance")
    web.get("/")
    with CaptureQueriesContext(connection) as small:
        html = web.get("/").content.decode()
    section = _overdue_section(html)
    assert "Overdue one" in section and "In time" not in section
    for i in range(6):
        _report(personas, registry["base"], days_ago=5, kind="critical-infrastructure", title=f"Late {i}")
    with CaptureQueriesContext(connection) as large:
        html = web.get("/").content.decode()
    assert "Late 5" in _overdue_section(html)
    assert len(large.captured_queries) == len(small.captured_queries)
    register = web.get("/incidents/?state=overdue").content.decode()
    assert "Overdue one" in register and "In time" not in register
    assert 'data-testid="overdue-incidents"' not in web_for("other_engineer").get("/").content.decode()


def _overdue_section(html: str) -> str:
    start = html.index('data-testid="overdue-incidents"')
    return html[start:html.index("</section>", start)]


def test_plan_shows_results_late_past_its_cadence(web_for, registry, personas):
    plan = ov_services.monitoring_plan_save(
        actor=personas["owner"], model=registry["base"], responsible=personas["engineer"],
        cadence_days=7, thresholds=[{"metric": "drift.max_psi", "direction": "above", "threshold": 0.25}])
    web = web_for("validator")
    assert 'data-testid="results-late"' not in web.get("/models/credit-default/").content.decode()
    MonitoringPlan.objects.filter(pk=plan.pk).update(created_at=timezone.now() - dt.timedelta(days=8))
    assert 'data-testid="results-late"' in web.get("/models/credit-default/").content.decode()
    assert "late: no drift or outcome result" in web.get("/models/credit-default/monitoring/").content.decode()


def _options(html: str, select_id: str) -> list[str]:
    import re

    start = html.index(f'id="{select_id}"')
    block = html[start:html.index("</select>", start)]
    return re.findall(r'<option value="([^"]*)"', block)


def test_owning_team_investigates_a_serious_incident_but_the_second_line_closes_it(web_for, registry, personas):
    incident = _report(personas, registry["base"])
    engineer = web_for("engineer")
    html = engineer.get(f"/incidents/{incident.pk}/").content.decode()
    assert _options(html, "id_to_status") == ["", "investigating"]
    assert 'data-testid="second-line-moves"' in html and "reported to the authority" in html
    assert 'data-testid="incident-reclassify-form"' not in html
    url = f"/incidents/{incident.pk}/transition/"
    assert engineer.post(url, {"to_status": "investigating", "note": "Checking"}).status_code == 302
    refused = engineer.post(url, {"to_status": "reported_to_authority", "authority_reference": "MSA-1"})
    assert refused.status_code == 403 and "Only validators, compliance or admins" in refused.content.decode()
    incident.refresh_from_db()
    assert incident.status == "investigating"
    html = web_for("compliance").get(f"/incidents/{incident.pk}/").content.decode()
    assert _options(html, "id_to_status") == ["", "reported_to_authority", "closed"]
    assert 'data-testid="second-line-moves"' not in html


def test_compliance_upgrades_an_incident_from_its_page(web_for, registry, personas):
    incident = _report(personas, registry["base"], kind=None, days_ago=3)
    compliance = web_for("compliance")
    html = compliance.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'data-testid="incident-reclassify-form"' in html
    url = f"/incidents/{incident.pk}/reclassify/"
    refused = compliance.post(url, {"serious": "on", "seriousness": "death", "reason": ""})
    assert refused.status_code == 400 and 'id="id_reason-error"' in refused.content.decode()
    response = compliance.post(url, {"serious": "on", "seriousness": "death",
                                     "reason": "The refused applicant died."}, follow=True)
    assert response.redirect_chain[-1][0] == f"/incidents/{incident.pk}/"
    html = response.content.decode()
    assert "reclassified: serious" in html and 'data-testid="incident-blocks"' in html
    assert "(10 days after it became known)" in html
    incident.refresh_from_db()
    assert incident.serious and incident.deadline_at == incident.became_known_at + dt.timedelta(days=10)
    assert "Incident reclassified" in html  # the trail reads the action by its label
    assert web_for("engineer").post(url, {"serious": "", "seriousness": "",
                                          "reason": "Not serious"}).status_code == 403


def test_report_form_refuses_a_count_beyond_the_column(web_for, registry):
    response = web_for("engineer").post("/models/credit-default/incidents/new/", {
        "title": "Outage", "description": "Scores missing.", "occurred_at": _local(dt.timedelta(hours=-2)),
        "became_known_at": _local(dt.timedelta(hours=-1)), "affected_persons": "2147483648",
    })
    assert response.status_code == 400
    assert 'id="id_affected_persons-error"' in response.content.decode()
    assert Incident.objects.count() == 0


def test_plan_form_lists_only_people_who_see_the_model(web_for, registry):
    from governance import services as gov

    web = web_for("owner")
    web.get("/models/credit-default/monitoring/")
    with CaptureQueriesContext(connection) as small:
        html = web.get("/models/credit-default/monitoring/").content.decode()
    people = _options(html, "id_responsible")
    assert {"engineer", "engineer2", "owner", "validator", "compliance", "business",
            "admin_user"} <= set(people)
    assert "other_engineer" not in people and "auditor" not in people
    for i in range(5):  # more people: still one query for the list
        gov.user_create(username=f"analyst{i}", roles=["engineer"], teams=["credit"])
        gov.user_create(username=f"fraudster{i}", roles=["engineer"], teams=["fraud"])
    with CaptureQueriesContext(connection) as large:
        html = web.get("/models/credit-default/monitoring/").content.decode()
    people = _options(html, "id_responsible")
    assert "analyst4" in people and "fraudster4" not in people
    assert len(large.captured_queries) == len(small.captured_queries)


def test_owning_team_cannot_loosen_the_plan_from_the_form(web_for, registry, personas):
    ov_services.monitoring_plan_save(
        actor=personas["validator"], model=registry["base"], responsible=personas["engineer"],
        cadence_days=14, thresholds=[{"metric": "drift.max_psi", "direction": "above", "threshold": 0.25}])
    rows = {f"{k}_{i}": v for i in range(1, 5) for k, v in (("direction", "above"), ("severity", "high"))}
    response = web_for("owner").post("/models/credit-default/monitoring/", {
        "responsible": "engineer", "cadence_days": "14", "watch_0": "on", "direction_0": "above",
        "threshold_0": "0.5", "severity_0": "high", **rows,
    })
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-testid="plan-form"' in html and "would alert above 0.5 instead of 0.25" in html
    assert [t.threshold for t in MonitoringPlan.objects.get().thresholds.all()] == [0.25]
    refused = web_for("owner").post("/models/credit-default/monitoring/", {
        "responsible": "other_engineer", "cadence_days": "14", "watch_0": "on",
        "direction_0": "above", "threshold_0": "0.2", "severity_0": "high", **rows,
    })
    assert refused.status_code == 400 and 'id="id_responsible-error"' in refused.content.decode()
