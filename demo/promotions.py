"""Approvals demo for `manage.py load_demo`: a staging promotion already approved and executed;
the gradient-boosting credit model's version 1 asking for production and blocked (its fairness
fails on age_band); and its remediated version 2, with every gate met, waiting for the
validator, then compliance, then the business approver. The output names who approves next,
with their demo logins. Judged on the real SHAP and fairness results. Idempotent."""

from __future__ import annotations

from approvals import services
from approvals.choices import LIVE_STATES, DecisionKind
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
PASSWORD = "gatehouse-demo"


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


def _run(version, dataset, actor, kind: str, params: dict) -> None:
    if Job.objects.filter(model_version=version, kind=kind, status=JobStatus.SUCCEEDED).exists():
        return
    job = jobs.job_start(actor=actor, version=version, kind=kind, dataset=dataset, params=params,
                         enqueue=False)
    runtime.run_inline(job.pk, worker="load_demo")


def _shap(version, dataset, actor) -> None:
    _run(version, dataset, actor, JobKind.SHAP,
         {"sample_size": 300, "background_size": 100, "seed": 0})


def _live(version, stage: str) -> PromotionRequest | None:
    return PromotionRequest.objects.filter(version=version, target_stage=stage).order_by("-pk").first()


def next_approvers(req: PromotionRequest, users: dict) -> list[str]:
    """'role: login, login' for each required role not yet approved, the demo users holding it
    who may decide (not the requester, nobody who already approved in another role)."""
    approvals = list(req.decisions.filter(decision=DecisionKind.APPROVE))
    filled = {d.role for d in approvals}
    approvers = {d.approver_id for d in approvals}
    out = []
    for role in req.required_roles:
        if role in filled:
            continue
        who = [name for name, u in users.items() if role in u.role_names
               and u.pk != req.requested_by_id and u.pk not in approvers]
        out.append(f"{role}: {' or '.join(who) or 'nobody in the demo'}")
    return out


def _describe(req: PromotionRequest, users: dict) -> str:
    report = req.gate_report or {}
    if req.state not in LIVE_STATES:
        return f"{req.version.ref} → {req.target_stage}: request #{req.pk} {req.state}"
    gates = ("every gate met" if report.get("passed") else
             "blocked by: " + "; ".join(report.get("missing", [])))
    order = ", then ".join(next_approvers(req, users))
    return (f"{req.version.ref} → {req.target_stage}: request #{req.pk} {req.state}, {gates}; "
            f"approves next: {order} (password {PASSWORD})")


def load_approvals_demo(users: dict, stdout) -> None:
    versions = {(v.model.name, v.version): v for v in ModelVersion.objects.select_related("model")
                .filter(model__name__in=["credit-default-gbm", "credit-default-logreg"])}
    training = DatasetVersion.objects.filter(dataset__name="credit-applications", version=1).first()
    logreg = versions.get(("credit-default-logreg", 1))
    gbm = versions.get(("credit-default-gbm", 1))
    if logreg is None or gbm is None or training is None:
        stdout.write("Approvals demo skipped: the demo registry is not loaded.")
        return
    eve, omar = users["eve"], users["omar"]

    if _live(logreg, "staging") is None:
        _shap(logreg, training, eve)
        _complete_and_sign(logreg, eve, omar)
        staging = services.promotion_request_open(
            actor=eve, version=logreg, target_stage="staging",
            justification="Scorecard challenger for a parallel run in staging against live traffic.",
        )
        staging = services.promotion_decide(
            actor=users["vic"], request_id=staging.pk, decision="approve", role="validator",
            comment="Parallel run is low risk; approved.")
        stdout.write(f"  {logreg.ref} → staging: {staging.state}")

    # Version 1: its fairness fails on age_band, so the request is blocked however it is approved.
    first = _live(gbm, "production")
    if first is None:
        _complete_and_sign(gbm, eve, omar)
        first = services.promotion_request_open(
            actor=eve, version=gbm, target_stage="production",
            justification="Gradient boosting improves AUC over the scorecard; SHAP and fairness "
                          "evidence attached. Requesting release to production.",
        )
    stdout.write("  " + _describe(first, users))

    # Version 2, remediated (no age proxies): fairness passes over every declared attribute.
    remediated = versions.get(("credit-default-gbm", 2))
    if remediated is None:
        return
    second = _live(remediated, "production")
    if second is None:
        _shap(remediated, training, eve)
        _run(remediated, training, eve, JobKind.FAIRNESS,
             {"sensitive_attributes": ["sex", "age_band"], "label_column": "default"})
        _complete_and_sign(remediated, eve, omar)
        second = services.promotion_request_open(
            actor=eve, version=remediated, target_stage="production",
            justification="Remediates v1's fairness failure on age_band (trained without age and "
                          "credit history); fairness within thresholds for sex, age_band and "
                          "their intersection. Requesting release to production.",
        )
    stdout.write("  " + _describe(second, users))
