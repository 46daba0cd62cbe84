"""The governance demo step: assessments, pre-filled documents, one finding; idempotent."""

import io

from demo.records import load_governance_demo
from oversight.models import (
    Document,
    Finding,
    Incident,
    MonitoringPlan,
    RiskAssessment,
    UseRestriction,
)
from tests import factories


def test_demo_step_assesses_documents_and_opens_a_finding_once(personas):
    eng = personas["engineer"]
    model = factories.model(eng, name="credit-default-gbm", owner="owner")
    factories.version(eng, model)
    users = {"omar": personas["owner"], "eve": eng, "hana": eng, "val": personas["validator"],
             "cora": personas["compliance"]}
    load_governance_demo(users, io.StringIO())
    load_governance_demo(users, io.StringIO())
    model.refresh_from_db()
    assert (model.risk_tier, model.eu_ai_act_class) == (1, "high")
    assert RiskAssessment.objects.count() == 1
    assert sorted(Document.objects.values_list("template_slug", flat=True)) == [
        "eu-ai-act-annex-iv", "sr11-7"]
    assert Finding.objects.get().severity == "medium"
    assert sorted(UseRestriction.objects.values_list("kind", flat=True)) == [
        "allowed_use", "geography", "population", "prohibited_use"]
    plan = MonitoringPlan.objects.get()
    assert plan.model == model and plan.thresholds.count() == 3
    assert sorted(Incident.objects.values_list("serious", "status")) == [
        (False, "investigating"), (True, "closed")]
