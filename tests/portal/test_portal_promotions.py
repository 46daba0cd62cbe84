"""Promotion pages: inbox, request page (evidence, gates, decisions, buttons only for those who
may decide), readiness panel and promotion history."""

from __future__ import annotations

import pytest

from approvals import services as approvals
from approvals.models import Decision
from oversight import risk
from oversight import services as ov_services
from tests.portal.conftest import write_forms

pytestmark = pytest.mark.django_db


def _answers() -> dict:
    return {q.key: q.options[0][0] for q in risk.QUESTIONS}


@pytest.fixture
def request_(registry, personas):
    """credit-default@1 → production, tier 2 (validator + compliance), opened by its owner."""
    model = registry["base"]
    assessment = ov_services.risk_assessment_create(actor=personas["owner"], model=model, answers=_answers())
    ov_services.risk_assessment_override(
        actor=personas["validator2"], assessment=assessment, tier=2,
        justification="Drives retail credit decisions.",
    )
    return approvals.promotion_request_open(
        actor=personas["owner"], version=registry["v1"], target_stage="production",
        justification="Better AUC than the scorecard.",
    )


def test_inbox_lists_requests_awaiting_my_role(web_for, request_):
    assert f'href="/promotions/{request_.pk}/"' in web_for("validator").get("/inbox/").content.decode()
    assert f'href="/promotions/{request_.pk}/"' in web_for("compliance").get("/inbox/").content.decode()
    business = web_for("business").get("/inbox/").content.decode()
    assert "Nothing awaits you." in business


def test_requester_does_not_find_their_own_request_in_the_inbox(web_for, request_):
    html = web_for("owner").get("/inbox/").content.decode()
    assert "Nothing awaits you." in html
    assert "Your open requests" in html


def test_validator_sees_the_decision_buttons(web_for, request_):
    html = web_for("validator").get(f"/promotions/{request_.pk}/").content.decode()
    assert 'data-testid="approve"' in html and 'data-testid="reject"' in html
    assert "Better AUC than the scorecard." in html
    assert 'data-testid="gates"' in html


def test_engineer_cannot_see_the_approve_button_on_their_own_request(web_for, request_):
    html = web_for("owner").get(f"/promotions/{request_.pk}/").content.decode()
    assert 'data-testid="approve"' not in html
    assert "You do not hold the role" in html or "Segregation of duties" in html
    dev_html = web_for("engineer").get(f"/promotions/{request_.pk}/").content.decode()
    assert 'data-testid="approve"' not in dev_html


def test_auditor_reads_the_request_without_any_write_control(web_for, request_):
    response = web_for("auditor").get(f"/promotions/{request_.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert write_forms(html) == []
    assert "Auditors have read-only access" in html


def test_auditor_deciding_anyway_is_refused_with_the_rule(web_for, request_):
    response = web_for("auditor").post(
        f"/promotions/{request_.pk}/decide/", {"role": "validator", "decision": "approve"}
    )
    assert response.status_code == 403
    assert "Auditors never decide" in response.content.decode()
    assert not Decision.objects.exists()


def test_validator_and_compliance_approve_and_the_decisions_show(web_for, request_):
    web = web_for("validator")
    response = web.post(f"/promotions/{request_.pk}/decide/",
                        {"role": "validator", "decision": "approve", "comment": "Sound."})
    assert response.status_code == 302
    html = web.get(f"/promotions/{request_.pk}/").content.decode()
    assert "Sound." in html and 'data-testid="approve"' not in html
    response = web_for("compliance").post(
        f"/promotions/{request_.pk}/decide/", {"role": "compliance", "decision": "approve"}
    )
    assert response.status_code == 302
    assert Decision.objects.filter(request=request_).count() == 2


def test_rejecting_without_a_comment_shows_the_error_next_to_the_comment(web_for, request_):
    response = web_for("validator").post(
        f"/promotions/{request_.pk}/decide/", {"role": "validator", "decision": "reject"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_comment-error"' in html and "A comment is required" in html
    assert not Decision.objects.exists()


def test_version_page_shows_readiness_per_target_stage(web_for, request_, registry):
    html = web_for("owner").get("/models/credit-default/v1/").content.decode()
    assert 'data-testid="readiness-staging"' in html and 'data-testid="readiness-production"' in html
    assert "SHAP" in html
    assert f'href="/promotions/{request_.pk}/"' in html
    assert 'data-testid="request-form"' in html
    auditor = web_for("auditor").get("/models/credit-default/v1/").content.decode()
    assert 'data-testid="readiness-production"' in auditor
    assert write_forms(auditor) == []


def test_owner_opens_a_request_from_the_version_page(web_for, registry, personas):
    ov_services.risk_assessment_create(actor=personas["owner"], model=registry["base"], answers=_answers())
    response = web_for("owner").post(
        "/models/credit-default/v1/promote/", {"target_stage": "staging", "justification": "Ready."}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/promotions/")


def test_opening_a_request_without_justification_explains_it(web_for, registry, personas):
    ov_services.risk_assessment_create(actor=personas["owner"], model=registry["base"], answers=_answers())
    response = web_for("owner").post("/models/credit-default/v1/promote/", {"target_stage": "staging"})
    assert response.status_code == 400
    assert "A justification is required" in response.content.decode()


def test_model_page_shows_promotion_history(web_for, request_):
    html = web_for("auditor").get("/models/credit-default/").content.decode()
    assert 'data-testid="promotion-history"' in html
    assert f'href="/promotions/{request_.pk}/"' in html


def test_dashboard_counts_requests_awaiting_my_roles(web_for, request_):
    html = web_for("validator").get("/").content.decode()
    assert 'data-testid="stat-awaiting"><span class="num">1</span>' in html.replace("\n", "")
