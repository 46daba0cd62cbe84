"""The documentation pack a regulator receives: the documents, then the evidence (SHAP, fairness per
attribute and group against the thresholds, drift, outcomes), the findings (open and closed) and
the approval decisions, with a controlled-copy header and footer on every PDF page."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from approvals import services
from oversight import export
from oversight import selectors as ov_selectors
from oversight.services import findings as finding_services
from tests.approvals.conftest import succeeded_job

FAIRNESS_WITH_OUTCOMES = {
    "passed": False,
    "attributes": {
        "sex": {"groups": [
            {"group": "F", "count": 210, "selection_rate": 0.41, "true_positive_rate": 0.7,
             "false_positive_rate": 0.12, "accuracy": 0.83},
            {"group": "M", "count": 190, "selection_rate": 0.44, "true_positive_rate": 0.72,
             "false_positive_rate": 0.1, "accuracy": 0.85},
        ], "metrics": {
            "demographic_parity_difference": {"value": 0.03, "threshold": {"max": 0.1},
                                              "passed": True},
            "disparate_impact_ratio": {"value": 0.93, "threshold": {"min": 0.8}, "passed": True},
        }},
        "age_band": {"groups": [], "metrics": {
            "demographic_parity_difference": {"value": 0.17, "threshold": {"max": 0.1},
                                              "passed": False},
        }},
    },
    "intersections": {}, "warnings": [],
    "outcomes": {"overall": {"accuracy": 0.842, "base_rate": 0.3, "selection_rate": 0.42,
                             "auc": 0.811, "expected_calibration_error": 0.021}, "groups": {}},
}
SHAP = {"explainer": "tree", "rows_explained": 400, "rows_total": 400, "feature_importance": [
    {"feature": "debt_to_income", "mean_abs_shap": 0.3121, "mean_shap": 0.01},
    {"feature": "income", "mean_abs_shap": 0.2087, "mean_shap": -0.02},
]}
DRIFT = {"verdict": "warn", "features": [
    {"feature": "income", "psi": 0.14, "ks_pvalue": 0.02, "verdict": "warn",
     "reasons": ["PSI 0.14 at or above the warning level 0.10"]},
]}


def _pages_text(html: str) -> list[str]:
    """The text WeasyPrint laid out on each PDF page, running header and footer included."""

    def walk(box, out):
        text = getattr(box, "text", None)
        if isinstance(text, str):
            out.append(text)
        for child in getattr(box, "children", ()):
            walk(child, out)
        return out

    document = export.render_pdf_document(html)
    return [" ".join(" ".join(walk(page._page_box, [])).split()) for page in document.pages]


def _drift_job(personas, version, baseline):
    from explainability.models import Job
    from tests import factories

    current = factories.dataset_version(personas["engineer"], baseline.dataset,
                                        csv=b"a,b,label\n5,6,0\n7,8,1\n")
    now = timezone.now()
    return Job.objects.create(
        model_version=version, dataset=current, reference_dataset=baseline, kind="drift",
        status="succeeded", progress=100, attempts=1, started_at=now, finished_at=now,
        result=DRIFT, data_sha256=current.sha256, reference_sha256=baseline.sha256,
    )


def test_pack_holds_the_evidence_findings_decisions_and_a_controlled_copy_footer(
    personas, make_ready
):
    version = make_ready(tier=1)
    data = version.jobs.first().dataset
    succeeded_job(version, data, "shap", SHAP)
    succeeded_job(version, data, "fairness", FAIRNESS_WITH_OUTCOMES)
    _drift_job(personas, version, data)
    model = version.model
    closed = finding_services.finding_open(actor=personas["validator"], model=model,
                                           version=version, title="Stale hold-out sample",
                                           severity="medium")
    finding_services.finding_transition(actor=personas["validator"], finding=closed,
                                        to_status="closed", note="New sample drawn.")
    finding_services.finding_open(actor=personas["validator"], model=model,
                                  title="Monitoring owner unnamed", severity="low")
    req = services.promotion_request_open(actor=personas["engineer"], version=version,
                                          target_stage="production", justification="Better AUC.")
    due = (timezone.now() + dt.timedelta(days=30)).date()
    services.promotion_decide(actor=personas["validator"], request_id=req.pk, decision="approve",
                              role="validator", comment="Validated against the challenger.",
                              conditions=[{"text": "Add a monthly stability report",
                                           "due_date": due.isoformat()}])
    documents = ov_selectors.documents_for_version(version)
    revisions = {d.template.title: d.revision for d in documents}

    html = export.render_pack_html(version, documents, generated_by="auditor")
    pages = _pages_text(html)
    text = " ".join(pages)
    n = len(pages)
    assert n >= 3
    # the controlled-copy header and footer are on every page
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of {n}" in page
        assert "Controlled copy" in page
        assert f"{model.name} version {version.version}" in page
        assert version.artifact_sha256 in page
        assert "Generated " in page
    # each document's pages carry that document's own revision number
    for title, number in revisions.items():
        assert any(f"{title} revision {number}" in p.split("Controlled copy")[1][:200]
                   for p in pages), title
    # the evidence
    for heading in ("Explainability (SHAP)", "Fairness", "Performance and outcomes", "Findings",
                    "Approval decisions", "Data drift"):
        assert heading in text, heading
    assert "debt_to_income" in text and "0.3121" in text
    assert "age_band: fail" in text and "sex: pass" in text
    assert "at most 0.10" in text and "at least 0.80" in text and "{'max'" not in text
    assert "AUC 0.811" in text
    # findings, open and closed, with their severity
    assert "Stale hold-out sample" in text and "Closed" in text and "Medium" in text
    assert "Monitoring owner unnamed" in text and "Open" in text
    # the decision: who, role label, comment, condition
    assert "validator" in text and "Validator (model risk officer)" in text
    assert "Validated against the challenger." in text
    assert "Add a monthly stability report" in text and due.isoformat() in text

    assert "PSI 0.14 at or above the warning level 0.10" in text and "verdict warn" in text
    assert export.render_pdf(html).startswith(b"%PDF")


def test_pack_says_what_evidence_is_missing(personas, make_ready):
    version = make_ready(tier=1, shap=False, fairness=False)
    html = export.render_pack_html(version, ov_selectors.documents_for_version(version))
    assert "No succeeded SHAP explanation of this version." in html
    assert "No succeeded fairness analysis of this version." in html
    assert "No succeeded drift analysis of this version." in html
    assert "No promotion request was opened for this version." in html


def test_the_version_pack_endpoint_serves_the_evidence_and_a_document_export_does_not(
    client_for, make_ready
):
    version = make_ready(tier=1)
    url = f"/api/v1/models/{version.model.name}/versions/{version.version}/documentation-pack/"
    auditor = client_for("auditor")
    page = auditor.get(url + "?format=html").content.decode()
    assert "Approval decisions" in page and "Explainability (SHAP)" in page
    assert 'data-testid="controlled-copy"' in page
    pdf = auditor.get(url + "?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    document = version.documents.first()
    single = auditor.get(f"/api/v1/documents/{document.pk}/export/?format=html").content.decode()
    assert "Approval decisions" not in single and f"revision {document.revision}" in single
