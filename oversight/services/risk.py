"""Risk assessments: score the questionnaire, set the model's tier, let a validator override."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from common.errors import Conflict, Forbidden, ValidationFailed
from governance import audit
from governance import permissions as perms
from governance.events import evidence_changed
from governance.models import TierPolicy
from oversight import risk
from oversight.models import RiskAssessment
from registry import services as registry_services
from registry.models import RegisteredModel

DEFAULT_VALIDITY_DAYS = 365


def _validity_days(tier: int) -> int:
    policy = TierPolicy.objects.filter(tier=tier, is_active=True).first()
    if policy is None:
        return DEFAULT_VALIDITY_DAYS
    return int(policy.rules.get("risk_assessment_validity_days") or DEFAULT_VALIDITY_DAYS)


@transaction.atomic(durable=True)
def risk_assessment_create(*, actor, model, answers: dict[str, Any]) -> RiskAssessment:
    """Score the answers and make this the model's current assessment: the model's risk tier and
    EU AI Act class follow it. Earlier assessments are kept (the history)."""
    refusal = perms.explain_cannot_assess_risk(actor, model)
    if refusal:
        raise Forbidden(refusal)
    result = risk.score_answers(answers)
    # Lock the model row: two assessments at once cannot leave the tier from the older one.
    RegisteredModel.objects.select_for_update().filter(pk=model.pk).first()
    now = timezone.now()
    assessment = RiskAssessment.objects.create(
        model=model, questionnaire_version=result.questionnaire_version,
        answers=risk.validate_answers(answers), score=result.score,
        computed_tier=result.risk_tier, eu_ai_act_class=result.eu_ai_act_class,
        reasons=result.reasons, assessed_by=actor,
        expires_at=now + dt.timedelta(days=_validity_days(result.risk_tier)),
    )
    before = registry_services.model_risk_classify(
        model=model, risk_tier=result.risk_tier, eu_ai_act_class=result.eu_ai_act_class
    )
    evidence_changed(model.name)  # live promotions re-judge after commit
    audit.record(
        action="governance.risk_assessment.created", actor=actor, target=assessment,
        object_repr=f"risk assessment of {model.name}", model_name=model.name,
        payload={
            "before": before,
            "after": {"risk_tier": result.risk_tier, "eu_ai_act_class": result.eu_ai_act_class},
            "score": result.score, "questionnaire_version": result.questionnaire_version,
            "answers": assessment.answers, "reasons": result.reasons,
        },
    )
    return assessment


@transaction.atomic(durable=True)
def risk_assessment_override(
    *, actor, assessment: RiskAssessment, tier: int, justification: str
) -> RiskAssessment:
    """A validator sets the tier of the model's current assessment, with a written justification.
    The computed tier stays recorded beside the override; the EU AI Act class is not overridable
    (it is a legal classification, not a judgement of model risk)."""
    refusal = perms.explain_cannot_override_risk(actor)
    if refusal:
        raise Forbidden(refusal)
    justification = (justification or "").strip()
    if not justification:
        msg = "Overriding a computed tier needs a written justification."
        raise ValidationFailed(msg, errors={"justification": [msg]})
    if tier not in (1, 2, 3):
        raise ValidationFailed("tier must be 1, 2 or 3.", errors={"tier": ["Must be 1, 2 or 3."]})
    assessment = RiskAssessment.objects.select_for_update().select_related("model").get(pk=assessment.pk)
    model = assessment.model
    latest = RiskAssessment.objects.filter(model=model).order_by("-created_at", "-id").first()
    if latest is None or latest.pk != assessment.pk:
        raise Conflict("Only the model's current risk assessment can be overridden.",
                       code="not_current")
    if tier == assessment.effective_tier:
        msg = f"The tier is already {tier}."
        raise ValidationFailed(msg, errors={"tier": [msg]})
    before = {"override_tier": assessment.override_tier, "effective_tier": assessment.effective_tier,
              "override_justification": assessment.override_justification}
    assessment.override_tier = tier
    assessment.override_justification = justification
    assessment.overridden_by = actor
    assessment.overridden_at = timezone.now()
    assessment.save(update_fields=["override_tier", "override_justification", "overridden_by",
                                   "overridden_at"])
    model_before = registry_services.model_risk_classify(
        model=model, risk_tier=tier, eu_ai_act_class=assessment.eu_ai_act_class
    )
    evidence_changed(model.name)  # live promotions re-judge after commit
    audit.record(
        action="governance.risk_assessment.overridden", actor=actor, target=assessment,
        object_repr=f"risk assessment of {model.name}", model_name=model.name,
        payload={
            "before": {**before, "model_risk_tier": model_before["risk_tier"]},
            "after": {"override_tier": tier, "effective_tier": tier,
                      "override_justification": justification, "model_risk_tier": tier},
            "computed_tier": assessment.computed_tier,
        },
    )
    return assessment
