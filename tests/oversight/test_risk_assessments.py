"""Risk assessments through the API: tier on the model, history, validator override."""

import pytest

from governance import selectors, services
from governance.models import AuditEvent
from oversight import selectors as ov_selectors
from oversight import services as ov_services
from oversight.models import RiskAssessment
from tests import contract, factories
from tests.governance.helpers import CREDIT_ANSWERS, answers

URL = "/api/v1/models/credit-default/risk-assessments/"


@pytest.fixture
def model(personas):
    return factories.model(personas["engineer"], owner="owner")


def test_questionnaire_is_served(client_for, personas):
    body = client_for("engineer").get("/api/v1/risk-questionnaire/").json()
    assert body["version"] and len(body["questions"]) >= 8


def test_engineer_assesses_model_tier_and_class_update_with_one_event(client_for, model):
    response, event = contract.assert_creates_one_audit_event(
        client_for("engineer"), URL, {"answers": CREDIT_ANSWERS},
        "governance.risk_assessment.created")
    body = response.json()
    assert body["risk_tier"] == 1 and body["eu_ai_act_class"] == "high"
    assert body["reasons"] and body["score"] >= 10
    model.refresh_from_db()
    assert (model.risk_tier, model.eu_ai_act_class) == (1, "high")
    assert event.payload["before"] == {"risk_tier": None, "eu_ai_act_class": ""}
    assert event.payload["after"] == {"risk_tier": 1, "eu_ai_act_class": "high"}
    assert event.model_name == "credit-default"


def test_history_is_kept_and_newest_is_current(client_for, model):
    client = client_for("engineer")
    client.post(URL, {"answers": CREDIT_ANSWERS}, format="json")
    client.post(URL, {"answers": answers()}, format="json")
    listing = client.get(URL).json()
    assert [r["risk_tier"] for r in listing["results"]] == [3, 1]
    model.refresh_from_db()
    assert model.risk_tier == 3
    assert ov_selectors.risk_assessment_current(model).computed_tier == 3


def test_invalid_answers_are_400_and_write_nothing(client_for, model):
    client = client_for("engineer")
    before = AuditEvent.objects.count()
    response = client.post(URL, {"answers": {"materiality": "huge"}}, format="json")
    assert response.status_code == 400
    assert "materiality" in response.json()["errors"]
    assert AuditEvent.objects.count() == before
    assert not RiskAssessment.objects.exists()


def test_other_team_cannot_see_or_assess(client_for, model):
    other = client_for("other_engineer")
    assert other.post(URL, {"answers": CREDIT_ANSWERS}, format="json").status_code == 404
    assert other.get(URL).status_code == 404


def test_business_approver_outside_the_team_may_read_but_not_assess(model):
    from rest_framework.test import APIClient

    outsider = services.user_create(username="bizz", roles=["business_approver"], teams=["retail"])
    _, key = services.token_create(user=outsider)
    business = APIClient()
    business.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert business.get(URL).status_code == 200
    response = business.post(URL, {"answers": CREDIT_ANSWERS}, format="json")
    assert response.status_code == 403
    assert "owning team" in response.json()["detail"]


def test_validator_overrides_with_justification_visible_with_computed_tier(client_for, model, personas):
    ra = ov_services.risk_assessment_create(actor=personas["engineer"], model=model, answers=answers())
    url = f"{URL}{ra.pk}/override/"
    response = client_for("validator").post(
        url, {"tier": 2, "justification": "Feeds pricing decisions indirectly."}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["risk_tier"] == 2 and body["computed_tier"] == 3 and body["is_overridden"]
    assert body["overridden_by"] == "validator"
    model.refresh_from_db()
    assert model.risk_tier == 2
    event = AuditEvent.objects.get(action="governance.risk_assessment.overridden")
    assert event.payload["before"]["effective_tier"] == 3
    assert event.payload["after"]["effective_tier"] == 2


def test_override_needs_justification(client_for, model, personas):
    ra = ov_services.risk_assessment_create(actor=personas["engineer"], model=model, answers=answers())
    response = client_for("validator").post(f"{URL}{ra.pk}/override/", {"tier": 1, "justification": "  "},
                                            format="json")
    assert response.status_code == 400
    assert "justification" in response.json()["detail"]
    ra.refresh_from_db()
    assert ra.override_tier is None


def test_only_validators_override(client_for, model, personas):
    ra = ov_services.risk_assessment_create(actor=personas["engineer"], model=model, answers=answers())
    for name in ("engineer", "compliance", "owner"):
        response = client_for(name).post(f"{URL}{ra.pk}/override/",
                                          {"tier": 1, "justification": "x"}, format="json")
        assert response.status_code == 403
        assert response.json()["detail"] == "Only a validator may override a computed risk tier."


def test_only_the_current_assessment_can_be_overridden(client_for, model, personas):
    old = ov_services.risk_assessment_create(actor=personas["engineer"], model=model, answers=answers())
    ov_services.risk_assessment_create(actor=personas["engineer"], model=model, answers=CREDIT_ANSWERS)
    response = client_for("validator").post(f"{URL}{old.pk}/override/",
                                            {"tier": 1, "justification": "x"}, format="json")
    assert response.status_code == 409


def test_database_refuses_an_override_without_justification(model, personas):
    from django.db import IntegrityError, transaction

    ra = ov_services.risk_assessment_create(actor=personas["engineer"], model=model, answers=answers())
    with pytest.raises(IntegrityError), transaction.atomic():
        RiskAssessment.objects.filter(pk=ra.pk).update(override_tier=1, override_justification="")


def test_expiry_follows_the_tier_policy(model, personas):
    ra = ov_services.risk_assessment_create(actor=personas["engineer"], model=model, answers=CREDIT_ANSWERS)
    days = selectors.policy_for_tier(1).rules["risk_assessment_validity_days"]
    assert (ra.expires_at - ra.created_at).days in (days - 1, days)
