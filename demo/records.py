"""Oversight demo data, for `manage.py load_demo`: risk assessments of the demo models,
pre-filled documentation for every version, and one open finding. Idempotent."""

from __future__ import annotations

from oversight import prefill, services
from oversight.models import Document, Finding, RiskAssessment, UseRestriction
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
    stdout.write(f"Governance demo: {assessed} risk assessments, {documented} documents, "
                 f"{Finding.objects.count()} findings, "
                 f"{UseRestriction.objects.count()} use restrictions.")
