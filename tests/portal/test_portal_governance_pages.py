"""Risk assessment page (questionnaire → tier and reasons, validator override), findings on the
inventory and model page, documentation on the version page."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from oversight import risk
from oversight import services as ov_services
from oversight.models import RiskAssessment
from registry.models import RegisteredModel
from tests.portal.conftest import write_forms

pytestmark = pytest.mark.django_db


def _answers() -> dict:
    return {q.key: q.options[0][0] for q in risk.QUESTIONS}


def test_owner_fills_the_questionnaire_and_sees_the_tier_and_reasons(web_for, registry):
    answers = {**_answers(), "decisions_about_people": "yes", "materiality": "high"}
    response = web_for("owner").post("/models/credit-default/risk/", answers, follow=True)
    html = response.content.decode()
    assessment = RiskAssessment.objects.get()
    assert response.status_code == 200
    assert f"Assessed: tier {assessment.effective_tier}" in html
    assert escape(assessment.reasons[-1]["effect"]) in html
    assert RegisteredModel.objects.get(name="credit-default").risk_tier == assessment.effective_tier


def test_an_unanswered_question_is_flagged_next_to_it(web_for, registry):
    answers = _answers()
    del answers["automation"]
    response = web_for("owner").post("/models/credit-default/risk/", answers)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_automation-error"' in html
    assert not RiskAssessment.objects.exists()


def test_validator_overrides_only_with_a_justification(web_for, registry, personas):
    ov_services.risk_assessment_create(actor=personas["owner"], model=registry["base"], answers=_answers())
    web = web_for("validator")
    assert 'data-testid="override-form"' in web.get("/models/credit-default/risk/").content.decode()
    response = web.post("/models/credit-default/risk/override/", {"tier": "1", "justification": ""})
    assert response.status_code == 400
    assert 'id="id_justification-error"' in response.content.decode()
    response = web.post("/models/credit-default/risk/override/",
                        {"tier": "1", "justification": "Automated credit decisions."}, follow=True)
    assert "Computed tier" in response.content.decode() and "Automated credit decisions." in response.content.decode()
    assert RegisteredModel.objects.get(name="credit-default").risk_tier == 1


def test_engineer_gets_no_override_form_and_auditor_no_form_at_all(web_for, registry, personas):
    ov_services.risk_assessment_create(actor=personas["owner"], model=registry["base"], answers=_answers())
    engineer = web_for("engineer").get("/models/credit-default/risk/").content.decode()
    assert 'data-testid="override-form"' not in engineer and 'data-testid="risk-form"' in engineer
    auditor = web_for("auditor").get("/models/credit-default/risk/")
    assert auditor.status_code == 200 and write_forms(auditor.content.decode()) == []
    refused = web_for("auditor").post("/models/credit-default/risk/", _answers())
    assert refused.status_code == 403
    assert RiskAssessment.objects.count() == 1


def test_inventory_filters_models_with_open_findings(web_for, registry, personas):
    ov_services.finding_open(actor=personas["validator"], model=registry["challenger"],
                     title="Unstable on thin files", severity="high")
    web = web_for("validator")
    html = web.get("/models/?has_open_findings=true").content.decode()
    assert ">credit-challenger</a>" in html and ">credit-default</a>" not in html
    assert ">credit-challenger</a>" not in web.get("/models/?has_open_findings=false").content.decode()
    model_page = web.get("/models/credit-challenger/").content.decode()
    assert "Unstable on thin files" in model_page
    dashboard = web.get("/").content.decode().replace("\n", "")
    assert 'data-testid="stat-findings"><span class="num">1</span>' in dashboard


def test_version_page_shows_documentation_status(web_for, registry):
    html = web_for("auditor").get("/models/credit-default/v1/").content.decode()
    assert 'data-testid="documents"' in html and "No documents yet." in html
    assert "incomplete" in html
