"""Risk assessments of a model: the history and the current one."""

from __future__ import annotations

from django.db.models import QuerySet

from common.errors import NotFound
from oversight.models import RiskAssessment


def risk_assessment_list(model) -> QuerySet[RiskAssessment]:
    return (RiskAssessment.objects.filter(model=model)
            .select_related("assessed_by", "overridden_by", "model")
            .order_by("-created_at", "-id"))


def risk_assessment_current(model) -> RiskAssessment | None:
    """The newest assessment of the model (expired or not; check `expires_at`)."""
    return risk_assessment_list(model).first()


def risk_assessments_current(model_ids: list[int]) -> dict[int, RiskAssessment]:
    """The newest assessment of each model (expired or not), in one query for the lot."""
    current: dict[int, RiskAssessment] = {}
    for ra in (RiskAssessment.objects.filter(model_id__in=model_ids)
               .select_related("assessed_by").order_by("model_id", "-created_at", "-id")):
        current.setdefault(ra.model_id, ra)
    return current


def risk_assessment_get(model, pk: int | str) -> RiskAssessment:
    found = risk_assessment_list(model).filter(pk=pk).first() if str(pk).isdigit() else None
    if found is None:
        raise NotFound(f"Model {model.name!r} has no risk assessment {pk}.")
    return found
