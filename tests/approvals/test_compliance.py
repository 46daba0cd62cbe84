"""The compliance evaluator: per version and framework, obligation by obligation met (with the
evidence's links and hashes), missing (what to do) or not applicable (why), judged on real
records made through the services, in a bounded number of queries."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals import compliance, exceptions, services
from explainability.models import Job
from governance.auditlog.sealer import seal
from oversight import selectors as ov_selectors
from oversight import services as ov_services
from oversight.services import documents as doc_services
from oversight.services import findings as finding_services
from oversight.services import risk as risk_services
from registry.models import RegisteredModel
from tests import factories
from tests.approvals.conftest import succeeded_job
from tests.governance.helpers import CREDIT_ANSWERS, LOW_ANSWERS

pytestmark = pytest.mark.django_db


def _canonical_sha(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _obligations(version, framework: str) -> dict[str, dict]:
    report = compliance.evaluate(version, framework=framework)
    return {o["id"]: o for o in report["frameworks"][0]["obligations"]}


def _source(obligation: dict, source: str) -> dict:
    return next(e for e in obligation["evidence"] if e["source"] == source)


def _bare(personas, **kw):
    eng = personas["engineer"]
    model = factories.model(eng, owner="owner", developers=["engineer"], **kw)
    return factories.version(eng, model)


def _execute(personas, version, stage="production"):
    req = services.promotion_request_open(actor=personas["engineer"], version=version,
                                          target_stage=stage, justification="ready")
    for who, role in [("validator", "validator"), ("compliance", "compliance"),
                      ("business", "business_approver")]:
        req = services.promotion_decide(actor=personas[who], request_id=req.pk,
                                        decision="approve", role=role, comment="ok")
    assert req.state == "executed", req.state_reason
    return req


def test_a_bare_version_misses_what_it_lacks_and_says_what_to_do(personas):
    version = _bare(personas)
    sr = _obligations(version, "sr11-7")
    inventory = sr["inventory"]
    assert inventory["status"] == "missing"
    assert _source(inventory, "field:model.owner")["met"] is True
    assert _source(inventory, "field:model.intended_use")["met"] is False
    assert "Write the model's intended use on the model page" in " ".join(inventory["todo"])
    assert "Complete the risk assessment questionnaire" in " ".join(inventory["todo"])
    assert sr["gov-documentation"]["todo"] == [
        f"Start the sr11-7 documentation of {version.ref} (Documentation on the version page) "
        "and write it."]
    # Not assessed: the EU AI Act's high-risk obligations are judged, not excused.
    report = compliance.evaluate(version, framework="eu-ai-act")
    eu = report["frameworks"][0]
    assert "not assessed yet" in eu["applicability"]
    assert eu["counts"] == {"met": 1, "missing": 25, "not_applicable": 0}
    assert [o["id"] for o in eu["obligations"] if o["status"] == "met"] == ["art-73"]  # no incident


def test_the_eu_ai_act_is_not_applicable_to_a_minimal_risk_model_saying_why(personas):
    version = _bare(personas)
    risk_services.risk_assessment_create(actor=personas["owner"], model=version.model,
                                         answers=LOW_ANSWERS)
    version.model.refresh_from_db()
    eu = compliance.evaluate(version, framework="eu-ai-act")["frameworks"][0]
    assert eu["applicable"] is False and eu["all_met"] is False
    assert eu["counts"] == {"met": 0, "missing": 0, "not_applicable": 26}
    reason = eu["obligations"][0]["reason"]
    assert reason.startswith("The model's EU AI Act class is minimal: these obligations apply to "
                             "high-risk AI systems")
    # The other frameworks apply whatever the class.
    assert compliance.evaluate(version, framework="sr11-7")["frameworks"][0]["applicable"]


def test_organisation_wide_controls_are_not_applicable_per_version(personas):
    nist = _obligations(_bare(personas), "nist-ai-rmf")
    for oid in ("govern-3", "govern-4", "govern-5", "measure-4"):
        assert nist[oid]["status"] == "not_applicable"
        assert "organisation-wide control" in nist[oid]["reason"]


def test_registry_facts_are_met_with_the_hash_of_what_was_registered(personas):
    eng = personas["engineer"]
    model = factories.model(eng, owner="owner", intended_use="Score loan applications.")
    train = factories.dataset_version(eng, factories.dataset(eng, name="loans"))
    version = factories.version(eng, model, metrics={"auc": 0.81}, training_datasets=[train.ref])
    iso = _obligations(version, "iso-42001")
    metrics = _source(iso["a-6-2-4"], "field:version.metrics")
    assert metrics["met"] and metrics["links"][0]["sha256"] == _canonical_sha({"auc": 0.81})
    provenance = iso["a-7-5"]
    assert provenance["status"] == "met"
    link = provenance["evidence"][0]["links"][0]
    assert (link["label"], link["sha256"], link["url"]) == (train.ref, train.sha256, "/datasets/loans/")
    intended = _source(iso["a-9-4"], "field:model.intended_use")
    assert intended["links"][0]["sha256"] == hashlib.sha256(b"Score loan applications.").hexdigest()
    signature = _source(iso["a-6-2-2"], "field:version.signature")
    assert not signature["met"]
    assert "register a new version with its input/output signature" in signature["todo"]
    assert "evaluation data" in _obligations(version, "nist-ai-rmf")["measure-1"]["evidence"][1]["detail"]


def test_a_documentation_section_is_met_by_its_text_and_sign_off_by_the_owner(personas):
    version = _bare(personas)
    eng, owner = personas["engineer"], personas["owner"]
    doc = doc_services.document_create(actor=eng, version=version, template_slug="sr11-7")
    text = "Logistic regression on bureau features; monotone constraints."
    for key in ov_selectors.document_required_sections(doc):
        doc_services.document_section_save(actor=eng, document=doc, section_key=key,
                                           text=text if key == "theory_and_design" else f"On {key}.")
    sr = _obligations(version, "sr11-7")
    design = _source(sr["dev-design"], "section:sr11-7/theory_and_design")
    assert design["met"] and design["links"][0]["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert design["links"][0]["url"] == f"/documents/{doc.pk}/#section-theory_and_design"
    components = _source(_obligations(version, "nist-ai-rmf")["map-4"],
                         "section:sr11-7/component_models")
    assert not components["met"] and components["todo"] == (
        "Write the section 'Component and upstream models' of the sr11-7 documentation.")
    assert sr["gov-documentation"]["status"] == "missing"
    assert "not signed off" in sr["gov-documentation"]["evidence"][0]["detail"]

    doc.refresh_from_db()
    doc_services.document_sign_off(actor=owner, document=doc)
    signed = _obligations(version, "sr11-7")["gov-documentation"]
    assert signed["status"] == "met"
    assert "Signed off by owner" in signed["evidence"][0]["detail"]
    doc.refresh_from_db()
    sections = {s.key: s.text for s in doc.sections.all()}
    assert signed["evidence"][0]["links"][0]["sha256"] == _canonical_sha(sections)

    doc_services.document_section_save(actor=eng, document=doc, section_key="methodology",
                                       text="Changed after the sign-off.")
    edited = _obligations(version, "sr11-7")["gov-documentation"]
    assert edited["status"] == "missing"
    assert "not signed off at that revision" in edited["evidence"][0]["detail"]


def _job(version, data, kind, result, **kw):
    now = timezone.now()
    return Job.objects.create(
        model_version=version, dataset=data, kind=kind, status="succeeded", progress=100,
        attempts=1, started_at=now, finished_at=now, result=result,
        artifact_sha256=kw.pop("artifact_sha256", version.artifact_sha256),
        data_sha256=data.sha256, **kw)


def test_jobs_are_met_on_this_artifact_with_the_result_hash(personas):
    eng = personas["engineer"]
    version = _bare(personas)
    data = factories.dataset_version(eng, factories.dataset(eng, name="loans"))
    shap = succeeded_job(version, data, "shap")
    _job(version, data, "fairness", {"passed": False, "attributes": {}})
    drift = _job(version, data, "drift", {"verdict": "drift"}, reference_dataset=data)
    nist = _obligations(version, "nist-ai-rmf")
    shap_result = _source(nist["measure-2"], "job:shap")
    assert shap_result["met"] and shap_result["links"][0]["sha256"] == _canonical_sha(shap.result)
    assert shap_result["links"][0]["url"] == f"/jobs/{shap.pk}/"
    fairness = _source(nist["measure-2"], "job:fairness")
    assert not fairness["met"] and "outside the thresholds" in fairness["detail"]
    drift_result = _source(nist["measure-3"], "job:drift")
    assert not drift_result["met"] and f"Drift job #{drift.pk}" in drift_result["detail"]
    assert "run a new drift job" in drift_result["todo"]
    _job(version, data, "drift", {"verdict": "no_drift"}, reference_dataset=data)
    assert _source(_obligations(version, "nist-ai-rmf")["measure-3"], "job:drift")["met"]


def test_a_job_on_another_artifact_is_not_evidence(personas):
    eng = personas["engineer"]
    version = _bare(personas)
    data = factories.dataset_version(eng, factories.dataset(eng, name="loans"))
    _job(version, data, "shap", {"feature_importance": []}, artifact_sha256="0" * 64)
    result = _source(_obligations(version, "ss1-23")["p3-testing"], "job:shap")
    assert not result["met"] and "ran on another artifact" in result["detail"]


def test_approvals_and_the_periodic_review_come_from_an_executed_promotion(personas, make_ready):
    version = make_ready(tier=1)
    sr = _obligations(version, "sr11-7")
    assert sr["gov-policies"]["status"] == "missing"
    assert "Request a promotion to production" in " ".join(sr["gov-policies"]["todo"])
    req = _execute(personas, version)
    version.refresh_from_db()
    version.model.refresh_from_db()
    sr = _obligations(version, "sr11-7")
    production = _source(sr["gov-policies"], "approval:production")
    assert production["met"] and production["links"][0]["sha256"] == req.evidence_fingerprint
    assert production["links"][0]["url"] == f"/promotions/{req.pk}/"
    review = _source(sr["gov-policies"], "review:periodic")
    assert review["met"] and "not overdue" in review["detail"]
    assert sr["gov-policies"]["status"] == "met"
    validator = _source(sr["val-soundness"], "approval:validator")
    assert validator["met"] and "Approved by validator validator" in validator["detail"]

    RegisteredModel.objects.filter(pk=version.model_id).update(
        next_review_date=timezone.localdate() - dt.timedelta(days=1))
    version.model.refresh_from_db()
    overdue = _source(_obligations(version, "ss1-23")["p4-revalidation"], "review:periodic")
    assert not overdue["met"] and "overdue" in overdue["detail"]


def test_the_risk_assessment_is_met_while_current(personas):
    version = _bare(personas)
    ra = risk_services.risk_assessment_create(actor=personas["owner"], model=version.model,
                                              answers=CREDIT_ANSWERS)
    version.model.refresh_from_db()
    tiering = _obligations(version, "ss1-23")["p1-tiering"]
    assert tiering["status"] == "met"
    assert tiering["evidence"][0]["links"][0]["sha256"] == _canonical_sha(ra.answers)
    later = timezone.now() + dt.timedelta(days=400)
    report = compliance.evaluate(version, framework="ss1-23", now=later)
    expired = next(o for o in report["frameworks"][0]["obligations"] if o["id"] == "p1-tiering")
    assert expired["status"] == "missing" and "expired" in expired["evidence"][0]["detail"]


def test_the_audit_log_is_met_once_sealed_in_a_signed_checkpoint(personas):
    version = _bare(personas)
    before = _source(_obligations(version, "iso-42001")["a-6-2-8"], "audit:log")
    assert not before["met"] and "not sealed" in before["detail"]
    checkpoint = seal().checkpoint
    after = _source(_obligations(version, "iso-42001")["a-6-2-8"], "audit:log")
    assert after["met"] and f"checkpoint {checkpoint.number}" in after["detail"]
    assert after["links"][0]["sha256"] == checkpoint.root_hash


def test_an_open_high_finding_on_the_model_misses_the_findings_register(personas):
    version = _bare(personas)
    assert _source(_obligations(version, "nist-ai-rmf")["manage-1"], "register:findings")["met"]
    finding = finding_services.finding_open(actor=personas["validator"], model=version.model,
                                            title="Unstable on thin files", severity="high")
    manage = _obligations(version, "nist-ai-rmf")["manage-1"]
    assert manage["status"] == "missing"
    assert f"#{finding.pk} Unstable on thin files (high, open)" in manage["evidence"][0]["detail"]
    assert manage["evidence"][0]["links"][0]["url"] == f"/findings/{finding.pk}/"
    finding_services.finding_transition(actor=personas["validator"], finding=finding,
                                        to_status="closed", note="fixed")
    assert _obligations(version, "nist-ai-rmf")["manage-1"]["status"] == "met"


def test_the_monitoring_plan_register_needs_a_plan_that_watches_a_metric(personas):
    version = _bare(personas)
    art72 = _source(_obligations(version, "eu-ai-act")["art-72"], "register:monitoring_plan")
    assert not art72["met"] and "has no post-market monitoring plan" in art72["detail"]
    assert "the metrics watched with their thresholds" in art72["todo"]
    plan = ov_services.monitoring_plan_save(
        actor=personas["owner"], model=version.model, responsible=personas["engineer"],
        cadence_days=30, notes="Monthly drift review.",
        thresholds=[{"metric": "drift.max_psi", "direction": "above", "threshold": 0.25}])
    art72 = _source(_obligations(version, "eu-ai-act")["art-72"], "register:monitoring_plan")
    assert art72["met"] and art72["links"][0]["url"] == f"/models/{version.model.name}/monitoring/"
    assert art72["detail"] == (f"Monitoring plan #{plan.pk}: 1 threshold(s), reviewed every 30 "
                               "day(s) by engineer.")


def test_the_incidents_register_misses_a_serious_incident_past_its_reporting_deadline(personas):
    version = _bare(personas)
    assert _source(_obligations(version, "eu-ai-act")["art-73"], "register:incidents")["met"]
    known = timezone.now() - dt.timedelta(days=20)  # past the 15-day clock of serious harm
    incident = ov_services.incident_report(
        actor=personas["engineer"], model=version.model, title="Applicants wrongly refused",
        description="A cut-off error.", occurred_at=known, became_known_at=known,
        affected_persons=40, serious=True, seriousness="serious-harm")
    art73 = _source(_obligations(version, "eu-ai-act")["art-73"], "register:incidents")
    assert not art73["met"] and f"#{incident.pk}" in art73["detail"]
    assert "Report the overdue serious incident(s) to the market surveillance authority" in art73["todo"]
    assert art73["links"][0]["url"] == f"/incidents/{incident.pk}/"
    ov_services.incident_transition(actor=personas["compliance"], incident=incident,
                                    to_status="investigating")
    ov_services.incident_transition(actor=personas["compliance"], incident=incident,
                                    to_status="reported_to_authority", authority_reference="MSA-1")
    art73 = _source(_obligations(version, "eu-ai-act")["art-73"], "register:incidents")
    assert art73["met"] and "1 incident(s) recorded" in art73["detail"]
    assert art73["links"][0]["url"] == f"/incidents/?model={version.model.name}"


def test_the_use_restrictions_register_needs_one_in_force(personas):
    version = _bare(personas)
    restriction = _source(_obligations(version, "ss1-23")["p5-restrictions"],
                          "register:use_restrictions")
    assert not restriction["met"] and "Record the model's allowed and prohibited uses" in restriction["todo"]
    ov_services.use_restriction_add(actor=personas["owner"], model=version.model,
                                    kind="prohibited_use", text="Not for mortgage decisions.")
    restriction = _source(_obligations(version, "ss1-23")["p5-restrictions"],
                          "register:use_restrictions")
    assert restriction["met"] and "1 use restriction(s) in force (prohibited_use)" in restriction["detail"]
    assert restriction["links"][0]["sha256"] == _canonical_sha(
        [{"kind": "prohibited_use", "text": "Not for mortgage decisions.", "expires_on": None}])
    tomorrow = timezone.now() + dt.timedelta(days=400)
    report = compliance.evaluate(version, framework="ss1-23", now=tomorrow)
    p5 = next(o for o in report["frameworks"][0]["obligations"] if o["id"] == "p5-restrictions")
    assert p5["status"] == "met"  # no expiry: in force


def test_the_exceptions_register_misses_an_approved_waiver_past_its_expiry(personas, make_ready):
    version = make_ready(tier=1)
    now = timezone.now()
    exc = exceptions.exception_request(
        actor=personas["engineer"], version=version, gate="shap", reason="Runner gap.",
        compensating_controls="Manual review.", expires_at=now + dt.timedelta(days=10), now=now)
    for who in ("validator", "compliance"):
        exceptions.exception_decide(actor=personas[who], exception_id=exc.pk, decision="approve",
                                    role=who, now=now)
    in_force = _source(_obligations(version, "sr11-7")["gov-exceptions"], "register:exceptions")
    assert in_force["met"] and "1 exception(s) in force" in in_force["detail"]
    assert in_force["links"][0]["url"] == f"/exceptions/{exc.pk}/"
    later = now + dt.timedelta(days=11)
    report = compliance.evaluate(version, framework="sr11-7", now=later)
    lapsed = next(o for o in report["frameworks"][0]["obligations"] if o["id"] == "gov-exceptions")
    assert lapsed["status"] == "missing"
    assert "past expiry not yet recorded expired" in lapsed["evidence"][0]["detail"]


def test_every_obligation_is_judged_in_a_fixed_number_of_queries(personas, make_ready):
    made = make_ready(tier=1)
    one = type(made).objects.select_related("model__owner").get(pk=made.pk)
    with CaptureQueriesContext(connection) as single:
        report = compliance.evaluate(one)
    assert sum(len(f["obligations"]) for f in report["frameworks"]) == 84
    assert len(single.captured_queries) <= 20
    others = [make_ready(tier=1, name=f"model-{i}") for i in range(4)]
    versions = [type(one).objects.select_related("model__owner").get(pk=v.pk) for v in others]
    with CaptureQueriesContext(connection) as many:
        reports = compliance.evaluate_versions([one, *versions])
    assert len(reports) == 5
    assert len(many.captured_queries) == len(single.captured_queries)
