"""Approvals demo for `manage.py load_demo`: a staging promotion already approved and executed,
and a production request for the gradient-boosting credit model waiting in the validator's inbox,
judged on the real SHAP and fairness results the explainability demo computed. Idempotent."""

from __future__ import annotations

from approvals import services
from approvals.models import PromotionRequest
from explainability import runtime
from explainability import services as jobs
from explainability.choices import JobKind, JobStatus
from explainability.models import Job
from oversight import selectors as ov_selectors
from oversight.models import Document
from oversight.services import documents as docs
from registry.models import DatasetVersion, ModelVersion

SECTION_TEXT = (
    "Reviewed by the credit-risk modelling team for release {ref}. {title}: see the attached "
    "development evidence, validation notes and monitoring plan; figures are taken from the "
    "registry (metrics, lineage and explainability results) and were checked by the developer."
)


def _complete_and_sign(version, author, owner) -> None:
    """Fill every required section the pre-fill left empty, then the owner signs off."""
    for document in Document.objects.filter(version=version).select_related("template"):
        texts = {s.key: s.text for s in document.sections.all()}
        for key in ov_selectors.document_required_sections(document):
            if not (texts.get(key) or "").strip():
                title = (document.template.section(key) or {}).get("title", key)
                docs.document_section_save(actor=author, document=document, section_key=key,
                                           text=SECTION_TEXT.format(ref=version.ref, title=title))
        document.refresh_from_db()
        if not document.is_signed_off:
            docs.document_sign_off(actor=owner, document=document)


def _shap(version, dataset, actor) -> None:
    if Job.objects.filter(model_version=version, kind=JobKind.SHAP, status=JobStatus.SUCCEEDED).exists():
        return
    job = jobs.job_start(actor=actor, version=version, kind=JobKind.SHAP, dataset=dataset,
                         params={"sample_size": 300, "background_size": 100, "seed": 0}, enqueue=False)
    runtime.run_inline(job.pk, worker="load_demo")


def load_approvals_demo(users: dict, stdout) -> None:
    versions = {v.model.name: v for v in ModelVersion.objects.select_related("model").filter(
        model__name__in=["credit-default-gbm", "credit-default-logreg"], version=1)}
    training = DatasetVersion.objects.filter(dataset__name="credit-applications", version=1).first()
    if len(versions) < 2 or training is None:
        stdout.write("Approvals demo skipped: the demo registry is not loaded.")
        return
    if PromotionRequest.objects.exists():
        stdout.write("Demo promotions already in place.")
        return
    eve, omar = users["eve"], users["omar"]

    logreg = versions["credit-default-logreg"]
    _shap(logreg, training, eve)
    _complete_and_sign(logreg, eve, omar)
    staging = services.promotion_request_open(
        actor=eve, version=logreg, target_stage="staging",
        justification="Scorecard challenger for a parallel run in staging against live traffic.",
    )
    staging = services.promotion_decide(actor=users["vic"], request_id=staging.pk, decision="approve",
                                        role="validator", comment="Parallel run is low risk; approved.")
    stdout.write(f"  {logreg.ref} → staging: {staging.state}")

    gbm = versions["credit-default-gbm"]
    _complete_and_sign(gbm, eve, omar)
    production = services.promotion_request_open(
        actor=eve, version=gbm, target_stage="production",
        justification="Gradient boosting improves AUC over the scorecard; SHAP and fairness "
                      "evidence attached. Requesting release to production.",
    )
    missing = ", ".join(production.gate_report.get("missing", [])) or "none"
    stdout.write(f"  {gbm.ref} → production: request #{production.pk} awaiting "
                 f"{', '.join(production.required_roles)} (gates not yet met: {missing})")
