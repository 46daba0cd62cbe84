"""The pure scoring rules: answers -> score, tier and EU AI Act class, with reasons."""

import pytest

from common.errors import ValidationFailed
from oversight.risk import QUESTIONS, questionnaire, score_answers
from tests.governance.helpers import CREDIT_ANSWERS, answers


def test_credit_scoring_model_is_tier_1_high_risk_and_says_why():
    result = score_answers(CREDIT_ANSWERS)
    assert result.risk_tier == 1
    assert result.eu_ai_act_class == "high"
    effects = " ".join(r["effect"] for r in result.reasons)
    assert "credit scoring" in effects.lower()
    assert "tier 1" in effects


def test_low_impact_internal_model_is_tier_3_minimal():
    result = score_answers(answers())
    assert (result.risk_tier, result.eu_ai_act_class, result.score) == (3, "minimal", 0)


def test_prohibited_practice_makes_class_prohibited_and_tier_1():
    result = score_answers(answers(prohibited_practice="social_scoring"))
    assert result.eu_ai_act_class == "prohibited"
    assert result.risk_tier == 1
    assert any("cannot be promoted" in r["effect"] for r in result.reasons)


def test_chatbot_is_limited_risk():
    assert score_answers(answers(interacts_with_people="yes")).eu_ai_act_class == "limited"


def test_annex_iii_use_is_high_risk_at_least_tier_2_even_with_a_low_score():
    result = score_answers(answers(annex_iii_area="employment"))
    assert result.eu_ai_act_class == "high"
    assert result.risk_tier == 2


def test_medium_score_is_tier_2():
    result = score_answers(answers(materiality="medium", decisions_about_people="yes",
                                   personal_data="sensitive"))
    assert result.score == 6
    assert result.risk_tier == 2


def test_booleans_are_accepted_as_yes_no():
    assert score_answers(answers(decisions_about_people=True)).score == 2


def test_missing_and_unknown_answers_are_named():
    bad = answers(complexity="extreme")
    del bad["materiality"]
    bad["colour"] = "blue"
    with pytest.raises(ValidationFailed) as exc:
        score_answers(bad)
    assert set(exc.value.errors) == {"materiality", "complexity", "colour"}


def test_questionnaire_is_versioned_and_lists_every_question_with_options():
    q = questionnaire()
    assert q["version"]
    assert [x["key"] for x in q["questions"]] == [x.key for x in QUESTIONS]
    annex = next(x for x in q["questions"] if x["key"] == "annex_iii_area")
    assert {"credit_scoring", "employment", "insurance_pricing", "biometrics"} <= {
        o["value"] for o in annex["options"]}
