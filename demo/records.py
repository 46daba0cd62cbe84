"""Oversight demo data, for `manage.py load_demo`: risk assessments of the demo models,
pre-filled documentation for every version, one open finding, use restrictions, the production
credit model's post-market monitoring plan and two incidents (a serious one reported to the
authority and closed, a minor one under investigation). Idempotent."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from oversight import prefill, services
from oversight.models import (
    Document,
    Finding,
    Incident,
    MonitoringPlan,
    RiskAssessment,
    UseRestriction,
)
from registry.models import RegisteredModel

CREDIT_ANSWERS = {
    "materiality": "high", "decisions_about_people": "yes", "annex_iii_area": "credit_scoring",
    "regulated_product": "no", "prohibited_practice": "none", "automation": "human_on_the_loop",
    "complexity": "medium", "personal_data": "personal", "interacts_with_people": "no",
    "vendor_model": "no",
}
TUMOUR_ANSWERS = {
    "materiality": "medium", "decisions_about_people": "yes", "annex_iii_area": "none",
    "regulated_product": "no", "prohibited_practice": "none", "automation": "human_in_the_loop",
    "complexity": "medium", "personal_data": "sensitive", "interacts_with_people": "no",
    "vendor_model": "no",
}
DEMO = {
    # model name: (assessor, document author, answers)
    "credit-default-gbm": ("omar", "eve", CREDIT_ANSWERS),
    "credit-default-logreg": ("omar", "eve", CREDIT_ANSWERS),
    "credit-default-lgbm": ("omar", "eve", CREDIT_ANSWERS),
    "tumour-malignancy-rf": ("hana", "hana", TUMOUR_ANSWERS),
}


#: The use restrictions of the demo's production credit model (shown on its every page).
DEMO_RESTRICTIONS = [
    ("allowed_use", "Retail unsecured lending decisions up to £25,000, with a human review of "
                    "every decline."),
    ("prohibited_use", "Not for marketing eligibility, collections prioritisation or pricing."),
    ("population", "Applicants aged 18 or over with at least six months of credit history."),
    ("geography", "United Kingdom only."),
]


def load_governance_demo(users: dict, stdout) -> None:
    models = {m.name: m for m in RegisteredModel.objects.filter(name__in=DEMO)}
    assessed = documented = 0
    for name, (assessor, author, answers) in DEMO.items():
        model = models.get(name)
        if model is None:
            continue
        if not RiskAssessment.objects.filter(model=model).exists():
            services.risk_assessment_create(actor=users[assessor], model=model, answers=answers)
            model.refresh_from_db()
            assessed += 1
        slugs = ["sr11-7"] + (["eu-ai-act-annex-iv"] if model.eu_ai_act_class == "high" else [])
        for version in model.versions.select_related("model__team", "model__owner", "created_by"):
            for slug in slugs:
                if Document.objects.filter(version=version, template_slug=slug).exists():
                    continue
                services.document_create(actor=users[author], version=version, template_slug=slug,
                                         prefill=prefill.facts_for_version(version))
                documented += 1
    gbm = models.get("credit-default-gbm")
    if gbm is not None and not Finding.objects.filter(model=gbm).exists():
        services.finding_open(
            actor=users["val"], model=gbm, severity="medium",
            title="Performance on thin-file applicants not evidenced",
            description="Outcomes analysis does not segment applicants with under two years of "
                        "credit history. Add a segment-level back-test.",
            section_key="performance_testing",
        )
    if gbm is not None and not UseRestriction.objects.filter(model=gbm).exists():
        for kind, text in DEMO_RESTRICTIONS:
            services.use_restriction_add(actor=users["omar"], model=gbm, kind=kind, text=text)
    if gbm is not None:
        _monitoring_and_incidents(users, gbm)
    stdout.write(f"Governance demo: {assessed} risk assessments, {documented} documents, "
                 f"{Finding.objects.count()} findings, "
                 f"{UseRestriction.objects.count()} use restrictions, "
                 f"{MonitoringPlan.objects.count()} monitoring plan(s), "
                 f"{Incident.objects.count()} incidents.")


#: The production credit model's post-market monitoring plan (EU AI Act Art. 72). Medium
#: severity: a crossing is a finding to answer, not (in the demo) a block on its promotions.
DEMO_THRESHOLDS = [
    {"metric": "drift.max_psi", "direction": "above", "threshold": 0.25, "severity": "medium"},
    {"metric": "drift.drifted_features", "direction": "above", "threshold": 1, "severity": "medium"},
    {"metric": "outcome.accuracy", "direction": "below", "threshold": 0.7, "severity": "medium"},
]


def _monitoring_and_incidents(users: dict, gbm) -> None:
    if not MonitoringPlan.objects.filter(model=gbm).exists():
        services.monitoring_plan_save(
            actor=users["omar"], model=gbm, responsible=users["eve"], cadence_days=30,
            thresholds=DEMO_THRESHOLDS,
            notes="Monthly review of the scheduled drift checks and the outcome analysis on "
                  "recorded decisions; escalate a crossing to the model risk committee.",
        )
    if Incident.objects.filter(model=gbm).exists():
        return
    now = timezone.now()
    serious = services.incident_report(
        actor=users["eve"], model=gbm, title="Eligible applicants declined after a bureau feed change",
        description="A credit bureau field changed units; 23 eligible applicants were declined "
                    "before the human review caught the pattern.",
        occurred_at=now - dt.timedelta(days=20), became_known_at=now - dt.timedelta(days=19),
        affected_persons=23, affected_description="Retail loan applicants, declined and re-offered.",
        serious=True, seriousness="serious-harm",
    )
    # The owner investigates; the second line (compliance) reports a serious incident to the
    # authority and closes it.
    for who, status, extra in (
        ("omar", "investigating", {}),
        ("cora", "reported_to_authority", {"authority_reference": "MSA-UK-2026-0117"}),
        ("cora", "closed", {"resolution": "Feed mapping fixed and tested; the 23 "
                                          "applications re-decided and re-offered."}),
    ):
        services.incident_transition(actor=users[who], incident=serious, to_status=status, **extra)
    minor = services.incident_report(
        actor=users["eve"], model=gbm, title="Scores delayed for 40 minutes",
        description="The scoring endpoint queued requests during a deployment; no decision changed.",
        occurred_at=now - dt.timedelta(days=2), became_known_at=now - dt.timedelta(days=2),
    )
    services.incident_transition(actor=users["eve"], incident=minor, to_status="investigating")
