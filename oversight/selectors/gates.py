"""The oversight part of a promotion's readiness (approvals adds the evidence of the apps below)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from governance.choices import EuAiActClass
from governance.models import TierPolicy
from oversight.selectors.documents import document_completeness
from oversight.selectors.findings import open_blocking_findings
from oversight.selectors.lapses import lapse_sentence, lapses_open
from oversight.selectors.risk import risk_assessment_current

_NOT_GIVEN: Any = object()


def is_prohibited(model, assessment) -> bool:
    """A prohibited practice (EU AI Act Art. 5), by the model's class or its current assessment."""
    return model.eu_ai_act_class == EuAiActClass.PROHIBITED or (
        assessment is not None and assessment.eu_ai_act_class == EuAiActClass.PROHIBITED
    )


def governance_gate_items(
    *, model, version, target_stage: str, policy: TierPolicy, now=None, assessment=_NOT_GIVEN
) -> list[dict]:
    """The governance part of a promotion's readiness, item by item: not prohibited, a current
    unexpired risk assessment (judged at `now`), documentation complete, no unresolved
    high/critical finding. Each item: {"key", "met", "detail"}; only the evidence the policy asks
    for is listed (plus 'not_prohibited', which always applies). Approvals adds SHAP and
    fairness, and passes the `assessment` it already read."""
    now = now or timezone.now()
    stage = policy.stage_rules(target_stage) or {}
    evidence = set(stage.get("evidence") or [])
    items: list[dict[str, Any]] = []
    current = risk_assessment_current(model) if assessment is _NOT_GIVEN else assessment
    prohibited = is_prohibited(model, current)
    items.append({"key": "not_prohibited", "met": not prohibited,
                  "detail": "The model's use is a prohibited practice under EU AI Act Art. 5; it "
                            "cannot be promoted." if prohibited else
                            "No prohibited practice (EU AI Act Art. 5)."})
    if "risk_assessment" in evidence:
        if current is None:
            items.append({"key": "risk_assessment", "met": False,
                          "detail": "The model has no risk assessment."})
        elif current.expires_at <= now:
            items.append({"key": "risk_assessment", "met": False,
                          "detail": f"The risk assessment expired on {current.expires_at:%Y-%m-%d}."})
        else:
            items.append({"key": "risk_assessment", "met": True, "assessment_id": current.pk,
                          "detail": f"Assessed tier {current.effective_tier}"
                                    + (" (validator override)" if current.is_overridden else "")
                                    + f", valid until {current.expires_at:%Y-%m-%d}."})
    if "documentation" in evidence:
        comp = document_completeness(version, policy)
        if comp["complete"]:
            detail = "Documentation complete and signed off."
        else:
            parts = []
            if comp["missing"]:
                parts.append("missing: " + ", ".join(comp["missing"]))
            if comp["unsigned"]:
                parts.append("not signed off: " + ", ".join(comp["unsigned"]))
            detail = "Documentation incomplete (" + "; ".join(parts) + ")."
        lapses = [lapse_sentence(lapse) for lapse in lapses_open(version)]
        items.append({"key": "documentation", "met": comp["complete"], "detail": detail,
                      "revision_ids": comp["revision_ids"], **({"lapses": lapses} if lapses else {})})
    if "no_open_high_findings" in evidence:
        blocking = list(open_blocking_findings(model, version))
        items.append({
            "key": "no_open_high_findings", "met": not blocking,
            "detail": "No unresolved high or critical finding." if not blocking else
            f"{len(blocking)} unresolved high/critical finding(s): "
            + "; ".join(f"#{f.pk} {f.title} ({f.severity}, {f.status})" for f in blocking),
            "finding_ids": [f.pk for f in blocking],
        })
    return items
