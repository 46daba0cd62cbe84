"""Findings in the portal: opened from a model or version page by validators and compliance, the
finding page with its thread, responses, and the status moves each role may make."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.models import AuditEvent
from oversight import services as ov_services
from oversight.models import Finding, FindingResponse
from tests.portal.conftest import write_forms

pytestmark = pytest.mark.django_db


@pytest.fixture
def finding(registry, personas):
    return ov_services.finding_open(actor=personas["validator"], model=registry["base"], version=registry["v1"],
                            title="No back-test on thin files", severity="high",
                            description="Segment the outcomes analysis.")


def test_validator_opens_a_finding_from_the_version_page(web_for, registry, personas):
    web = web_for("validator")
    version_page = web.get("/models/credit-default/v1/").content.decode()
    assert 'href="/models/credit-default/findings/new/?version=1"' in version_page
    form = web.get("/models/credit-default/findings/new/?version=1").content.decode()
    assert '<option value="1" selected>' in form
    due = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    response = web.post("/models/credit-default/findings/new/", {
        "title": "Calibration drifts above 700", "severity": "high", "version": "1",
        "description": "Observed in the 2024 back-test.", "due_date": due,
    }, follow=True)
    finding = Finding.objects.get()
    assert response.redirect_chain[-1][0] == f"/findings/{finding.pk}/"
    assert finding.version == registry["v1"] and finding.owner == personas["owner"]
    assert f"Finding #{finding.pk} opened; owner was notified." in response.content.decode()
    assert AuditEvent.objects.filter(action="governance.finding.opened").count() == 1


def test_a_finding_without_a_title_is_flagged_next_to_the_field(web_for, registry):
    response = web_for("compliance").post("/models/credit-default/findings/new/",
                                          {"title": "", "severity": "low"})
    assert response.status_code == 400
    assert 'id="id_title-error"' in response.content.decode()
    assert not Finding.objects.exists()


def test_engineer_gets_no_open_link_and_a_403_with_the_rule(web_for, registry):
    web = web_for("engineer")
    assert 'data-testid="open-finding"' not in web.get("/models/credit-default/v1/").content.decode()
    response = web.get("/models/credit-default/findings/new/")
    assert response.status_code == 403
    assert "Only validators and compliance may open a finding." in response.content.decode()


def test_finding_page_shows_the_thread_and_the_owning_team_responds(web_for, finding):
    web = web_for("engineer")
    html = web.get(f"/findings/{finding.pk}/").content.decode()
    assert "No back-test on thin files" in html and 'data-testid="respond-form"' in html
    response = web.post(f"/findings/{finding.pk}/respond/",
                        {"body": "Back-test added to section 7."}, follow=True)
    assert "Back-test added to section 7." in response.content.decode()
    assert FindingResponse.objects.filter(finding=finding, author__username="engineer").count() == 1


def test_an_empty_response_is_flagged_next_to_the_field(web_for, finding):
    response = web_for("engineer").post(f"/findings/{finding.pk}/respond/", {"body": ""})
    assert response.status_code == 400
    assert 'id="id_body-error"' in response.content.decode()


def test_engineer_may_only_mark_remediated_and_is_told_why_not_close(web_for, finding):
    web = web_for("engineer")
    html = web.get(f"/findings/{finding.pk}/").content.decode()
    assert '<option value="remediated">' in html
    assert '<option value="closed">' not in html
    assert "Only a validator may accept, close or reopen a finding." in html
    refused = web.post(f"/findings/{finding.pk}/transition/", {"to_status": "closed"})
    assert refused.status_code == 403
    assert "Only a validator may accept, close or reopen a finding." in refused.content.decode()
    web.post(f"/findings/{finding.pk}/transition/", {"to_status": "remediated", "note": "Fixed."})
    finding.refresh_from_db()
    assert finding.status == "remediated"


def test_validator_accepts_the_risk_only_with_a_justification(web_for, finding):
    web = web_for("validator2")
    response = web.post(f"/findings/{finding.pk}/transition/", {"to_status": "accepted"})
    assert response.status_code == 400
    assert 'id="id_justification-error"' in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == "open"
    response = web.post(f"/findings/{finding.pk}/transition/",
                        {"to_status": "accepted", "justification": "Thin files are 0.3% of volume."},
                        follow=True)
    finding.refresh_from_db()
    html = response.content.decode()
    assert finding.status == "accepted"
    assert 'data-testid="justification"' in html and "Thin files are 0.3% of volume." in html


def test_auditor_reads_the_finding_without_any_write_control(web_for, finding):
    web = web_for("auditor")
    response = web.get(f"/findings/{finding.pk}/")
    html = response.content.decode()
    assert response.status_code == 200 and write_forms(html) == []
    assert "Auditors have read-only access" in html
    for url, data in [(f"/findings/{finding.pk}/respond/", {"body": "x"}),
                      (f"/findings/{finding.pk}/transition/", {"to_status": "closed"}),
                      ("/models/credit-default/findings/new/", {"title": "x", "severity": "low"})]:
        refused = web.post(url, data)
        assert refused.status_code == 403, url
    assert Finding.objects.count() == 1 and not FindingResponse.objects.exists()


def test_other_team_cannot_see_the_finding(web_for, finding):
    assert web_for("other_engineer").get(f"/findings/{finding.pk}/").status_code == 404


def test_finding_page_query_count_does_not_grow_with_the_thread(web_for, personas, finding):
    web = web_for("validator")
    ov_services.finding_respond(actor=personas["engineer"], finding=finding, body="first")
    with CaptureQueriesContext(connection) as few:
        web.get(f"/findings/{finding.pk}/")
    for i in range(10):
        ov_services.finding_respond(actor=personas["engineer2" if i % 2 else "owner"], finding=finding, body=f"r{i}")
    with CaptureQueriesContext(connection) as many:
        web.get(f"/findings/{finding.pk}/")
    assert len(many) == len(few)


def test_findings_list_links_each_finding_to_its_page(web_for, finding):
    html = web_for("validator").get("/findings/").content.decode()
    assert f'href="/findings/{finding.pk}/"' in html


def test_validator_opens_a_finding_on_a_document_section(web_for, registry, personas):
    from oversight import prefill

    document = ov_services.document_create(actor=personas["engineer"], version=registry["v1"],
                                   template_slug="sr11-7",
                                   prefill=prefill.facts_for_version(registry["v1"]))
    web = web_for("validator")
    link = (f"/models/credit-default/findings/new/?version=1&amp;document={document.pk}"
            "&amp;section_key=methodology")
    assert link in web.get(f"/documents/{document.pk}/").content.decode()
    assert 'data-testid="finding-on-methodology"' not in web_for("engineer").get(
        f"/documents/{document.pk}/").content.decode()
    web.post("/models/credit-default/findings/new/", {
        "title": "Hyperparameters not justified", "severity": "medium", "version": "1",
        "document": str(document.pk), "section_key": "methodology",
    })
    finding = Finding.objects.get()
    assert (finding.document, finding.section_key) == (document, "methodology")
    html = web.get(f"/documents/{document.pk}/").content.decode()
    assert f'href="/findings/{finding.pk}/"' in html
