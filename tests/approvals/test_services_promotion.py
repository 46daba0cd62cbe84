import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from approvals import services
from approvals.models import Notification, PromotionRequest
from common.errors import Conflict, Forbidden, ValidationFailed
from governance.choices import Role
from governance.models import AuditEvent, RoleGrant
from oversight.services import findings as finding_services
from oversight.services import risk as risk_services
from registry.models import ModelVersion
from tests import factories
from tests.approvals.conftest import succeeded_job
from tests.governance.helpers import answers


def open_request(personas, version, stage="production"):
    return services.promotion_request_open(
        actor=personas["engineer"], version=version, target_stage=stage,
        justification="Beats the champion on AUC; fairness within thresholds.",
    )


def approve(personas, req, who, role, **kw):
    return services.promotion_decide(actor=personas[who], request_id=req.pk, decision="approve",
                                     role=role, comment=kw.pop("comment", "ok"), **kw)


def test_tier1_request_snapshots_policy_roles_and_gates(personas, make_ready):
    version = make_ready(tier=1)
    req = open_request(personas, version)
    assert req.state == "open"
    assert sorted(req.required_roles) == ["business_approver", "compliance", "validator"]
    assert req.policy.tier == 1
    assert req.gate_report["passed"] is True
    assert req.evidence["artifact_sha256"] == version.artifact_sha256
    assert set(req.evidence["jobs"]) == {"shap", "fairness"}
    assert req.evidence["document_revisions"]
    event = AuditEvent.objects.filter(action="approvals.promotion.requested").get()
    assert event.payload["after"]["required_roles"] == req.required_roles
    # every holder of a required role is told, in the app
    notified = set(Notification.objects.filter(kind="promotion_awaiting").values_list("user__username", flat=True))
    assert {"validator", "validator2", "compliance", "business"} <= notified


def test_full_approval_executes_and_archives_previous_production(personas, make_ready, django_capture_on_commit_callbacks):
    v1 = make_ready(tier=1)
    req1 = open_request(personas, v1)
    approve(personas, req1, "validator", "validator")
    approve(personas, req1, "compliance", "compliance")
    with django_capture_on_commit_callbacks(execute=True):
        approve(personas, req1, "business", "business_approver")
    req1.refresh_from_db()
    v1.refresh_from_db()
    assert (req1.state, v1.stage) == ("executed", "production")
    assert v1.model.__class__.objects.get(pk=v1.model_id).next_review_date is not None
    assert any("executed" in m.subject for m in mail.outbox)

    v2 = make_ready(tier=1)
    req2 = open_request(personas, v2)
    for who, role in [("validator2", "validator"), ("compliance", "compliance"), ("business", "business_approver")]:
        approve(personas, req2, who, role)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.stage, v2.stage) == ("archived", "production")
    assert ModelVersion.objects.filter(model=v1.model, stage="production").count() == 1
    stage_events = AuditEvent.objects.filter(action="registry.version.stage_changed").order_by("seq")
    assert [(e.object_repr, e.payload["after"]["stage"]) for e in stage_events] == [
        (v1.ref, "production"), (v1.ref, "archived"), (v2.ref, "production")]


def test_quorum_without_passing_gates_holds_as_approved_then_executes(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    req = open_request(personas, version)
    assert req.gate_report["passed"] is False
    assert any("SHAP" in m for m in req.gate_report["missing"])
    for who, role in [("validator", "validator"), ("compliance", "compliance"), ("business", "business_approver")]:
        req = approve(personas, req, who, role)
    assert req.state == "approved"
    assert "SHAP" in req.state_reason
    version.refresh_from_db()
    assert version.stage == "development"
    with pytest.raises(Conflict, match="cannot execute yet"):
        services.promotion_execute(actor=personas["engineer"], request_id=req.pk)


def test_execution_on_the_final_approval_is_the_systems_naming_the_approvals(personas, make_ready):
    v1 = make_ready(tier=1)
    req1 = open_request(personas, v1)
    for who, role in [("validator", "validator"), ("compliance", "compliance"), ("business", "business_approver")]:
        approve(personas, req1, who, role)
    v2 = make_ready(tier=1)
    req2 = open_request(personas, v2)
    for who, role in [("validator2", "validator"), ("compliance", "compliance"), ("business", "business_approver")]:
        req2 = approve(personas, req2, who, role)
    assert req2.state == "executed"
    triggered = [{"decision_id": d.pk, "approver": d.approver.username, "role": d.role}
                 for d in req2.decisions.order_by("created_at", "pk")]
    assert [(t["approver"], t["role"]) for t in triggered] == [
        ("validator2", "validator"), ("compliance", "compliance"), ("business", "business_approver")]
    executed = AuditEvent.objects.filter(action="approvals.promotion.executed", object_id=str(req2.pk)).get()
    assert (executed.actor_id, executed.actor_name) == (None, "system")
    assert executed.payload["executed_by"] == "system" and executed.payload["triggered_by"] == triggered
    assert "business (business_approver)" in executed.payload["reason"]
    # The version's move, and the archiving of the one it replaced, are the system's too.
    moves = AuditEvent.objects.filter(action="registry.version.stage_changed",
                                      payload__promotion_request=req2.pk).order_by("seq")
    assert [(e.object_repr, e.payload["after"]["stage"]) for e in moves] == [
        (v1.ref, "archived"), (v2.ref, "production")]
    assert {(e.actor_id, e.actor_name) for e in moves} == {(None, "system")}
    assert all(e.payload["triggered_by"] == triggered for e in moves)
    # The final approver's own event is their decision, nothing more.
    decided = AuditEvent.objects.filter(action="approvals.promotion.decided", object_id=str(req2.pk),
                                        actor_name="business").get()
    assert decided.payload["decision"] == "approve"


@pytest.mark.parametrize("who,role,rule", [
    ("engineer", "validator", "do not hold the role"),
    ("auditor", "validator", "Auditors never decide"),
    ("owner", "model_owner", "not required on this request"),
    ("validator", "compliance", "do not hold the role"),
])
def test_decision_refusals_name_the_rule(personas, make_ready, who, role, rule):
    req = open_request(personas, make_ready(tier=1))
    with pytest.raises(Forbidden, match=rule):
        services.promotion_decide(actor=personas[who], request_id=req.pk, decision="approve", role=role)


def test_segregation_of_duties(personas, make_ready):
    from governance import services as gov

    version = make_ready(tier=1)
    # the requester holds the validator role too: still may not decide on their own request
    gov.user_grant_roles(user=personas["engineer"], roles=["validator"])
    personas["engineer"].refresh_from_db()
    req = open_request(personas, version)
    with pytest.raises(Forbidden, match="nobody decides on a promotion request they made"):
        services.promotion_decide(actor=personas["engineer"], request_id=req.pk, decision="approve", role="validator")
    # a developer of the model who is also compliance may not decide
    gov.user_grant_roles(user=personas["engineer2"], roles=["compliance"])
    version.model.developers.add(personas["engineer2"])
    with pytest.raises(Forbidden, match="developers of a model do not decide"):
        services.promotion_decide(actor=personas["engineer2"], request_id=req.pk, decision="approve", role="compliance")
    # one person, one role
    gov.user_grant_roles(user=personas["validator"], roles=["compliance"])
    approve(personas, req, "validator", "validator")
    with pytest.raises(Forbidden, match="one person fills at most one role"):
        approve(personas, req, "validator", "compliance")
    with pytest.raises(Forbidden, match="already approved"):
        approve(personas, req, "validator2", "validator")


def test_version_creator_cannot_decide(personas, make_ready):
    from governance import services as gov

    version = make_ready(tier=1)
    ModelVersion.objects.filter(pk=version.pk).update(created_by=personas["compliance"])
    version.model.developers.remove(personas["compliance"])
    req = open_request(personas, version)
    with pytest.raises(Forbidden, match="version they registered"):
        approve(personas, req, "compliance", "compliance")
    assert gov  # noqa


def test_rejection_closes_and_further_decisions_are_409(personas, make_ready):
    req = open_request(personas, make_ready(tier=1))
    with pytest.raises(ValidationFailed, match="comment is required"):
        services.promotion_decide(actor=personas["validator"], request_id=req.pk, decision="reject", role="validator")
    req = services.promotion_decide(actor=personas["validator"], request_id=req.pk, decision="reject",
                                    role="validator", comment="Calibration drifts in the tail.")
    assert req.state == "rejected" and "Calibration" in req.state_reason
    with pytest.raises(Conflict, match="is rejected"):
        approve(personas, req, "compliance", "compliance")
    with pytest.raises(Conflict, match="is rejected; it cannot become withdrawn"):
        services.promotion_withdraw(actor=personas["engineer"], request_id=req.pk)


def test_request_changes_keeps_request_open(personas, make_ready):
    req = open_request(personas, make_ready(tier=1))
    req = services.promotion_decide(actor=personas["validator"], request_id=req.pk,
                                    decision="request_changes", role="validator", comment="Add a stress test.")
    assert req.state == "open"
    approve(personas, req, "validator", "validator")  # may approve after the changes


def test_only_owner_or_developers_request_and_one_live_request(personas, make_ready):
    version = make_ready(tier=1)
    with pytest.raises(Forbidden, match="owner and its developers"):
        services.promotion_request_open(actor=personas["engineer2"], version=version,
                                        target_stage="production", justification="x")
    open_request(personas, version)
    with pytest.raises(Conflict, match="already open"):
        open_request(personas, version)
    open_request(personas, version, stage="staging")  # another target stage is its own request


def test_unassessed_or_prohibited_model_cannot_be_requested(personas):
    owner = personas["owner"]
    model = factories.model(owner, owner="owner", developers=["engineer"])
    version = factories.version(personas["engineer"], model)
    with pytest.raises(ValidationFailed, match="no risk assessment"):
        open_request(personas, version)
    risk_services.risk_assessment_create(actor=owner, model=model, answers=answers(prohibited_practice="social_scoring"))
    with pytest.raises(ValidationFailed, match="prohibited"):
        open_request(personas, version)


def test_a_model_classed_prohibited_is_refused_at_opening_like_the_gate_says(personas, make_ready):
    from registry.models import RegisteredModel

    version = make_ready(tier=1)
    RegisteredModel.objects.filter(pk=version.model_id).update(eu_ai_act_class="prohibited")
    version.model.refresh_from_db()
    with pytest.raises(ValidationFailed, match="prohibited") as refused:
        open_request(personas, version)
    assert refused.value.code == "prohibited"


def test_gates_judge_the_risk_assessment_expiry_at_the_moment_asked(personas, make_ready):
    import datetime as dt

    from approvals import gates
    from oversight import selectors as ov_selectors

    version = make_ready(tier=1)
    expires = ov_selectors.risk_assessment_current(version.model).expires_at
    today = gates.evaluate(version, "production")
    later = gates.evaluate(version, "production", now=expires + dt.timedelta(days=1))
    item = {i["key"]: i for i in today.as_dict()["items"]}["risk_assessment"]
    late = {i["key"]: i for i in later.as_dict()["items"]}["risk_assessment"]
    assert item["met"] is True
    assert late["met"] is False and "expired" in late["detail"]


def test_withdraw_only_by_requester(personas, make_ready):
    req = open_request(personas, make_ready(tier=1))
    with pytest.raises(Forbidden):
        services.promotion_withdraw(actor=personas["owner"], request_id=req.pk)
    req = services.promotion_withdraw(actor=personas["engineer"], request_id=req.pk, reason="superseded")
    assert req.state == "withdrawn"


def test_new_job_result_after_approval_revokes_once_in_a_worker(
    personas, make_ready, django_capture_on_commit_callbacks, rechecks
):
    from explainability import services as job_services

    version = make_ready(tier=1)
    req = open_request(personas, version)
    approve(personas, req, "validator", "validator")
    data = version.upstream_edges.first().upstream_dataset
    job = job_services.job_start(actor=personas["engineer"], version=version, kind="shap",
                                 dataset=data, enqueue=False)
    claimed = job_services.job_claim(job_id=job.pk, worker="w")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert job_services.job_succeed(job_id=claimed.pk, attempt=1, result={"x": 1})
    assert rechecks == [] and req.state == "open"  # nothing is re-judged before the commit
    for callback in callbacks:
        callback()
    assert rechecks == [version.model.name]
    req.refresh_from_db()
    assert req.state == "revoked"
    assert "jobs" in req.state_reason
    assert AuditEvent.objects.filter(action="approvals.promotion.revoked").count() == 1


def test_evidence_changed_many_times_in_one_transaction_is_rechecked_once(
    personas, make_ready, django_capture_on_commit_callbacks, rechecks
):
    from django.db import transaction

    from governance.events import evidence_changed

    version = make_ready(tier=1)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic(durable=True):
        for _ in range(3):
            evidence_changed(version.model.name)
        evidence_changed("another-model")
        with pytest.raises(RuntimeError), transaction.atomic():
            evidence_changed("rolled-back-model")
            raise RuntimeError("the change fails")
    assert rechecks == [version.model.name, "another-model"]


def test_document_edit_and_finding_revoke_approvals(
    personas, make_ready, django_capture_on_commit_callbacks, rechecks
):
    from oversight.services import documents as doc_services

    version = make_ready(tier=1)
    req = open_request(personas, version)
    approve(personas, req, "validator", "validator")
    doc = version.model.__class__  # noqa
    from oversight.models import Document

    document = Document.objects.filter(version=version).first()
    with django_capture_on_commit_callbacks(execute=True):
        doc_services.document_section_save(actor=personas["engineer"], document=document,
                                           section_key=document.sections.first().key, text="Edited after approval.")
    req.refresh_from_db()
    assert req.state == "revoked" and "document_revisions" in req.state_reason

    v2 = make_ready(tier=1)
    req2 = open_request(personas, v2)
    approve(personas, req2, "validator", "validator")
    with django_capture_on_commit_callbacks(execute=True):
        finding_services.finding_open(actor=personas["validator2"], model=v2.model, version=v2,
                                      title="Unstable in stress scenario", severity="high")
    req2.refresh_from_db()
    assert req2.state == "revoked" and "open_findings" in req2.state_reason


def test_evidence_change_before_any_approval_refreshes_snapshot(personas, make_ready):
    version = make_ready(tier=1, fairness=False)
    req = open_request(personas, version)
    assert req.gate_report["passed"] is False
    succeeded_job(version, version.upstream_edges.first().upstream_dataset, "fairness",
                  __import__("tests.approvals.conftest", fromlist=["x"]).PASSING_FAIRNESS)
    for who, role in [("validator", "validator"), ("compliance", "compliance"), ("business", "business_approver")]:
        req = approve(personas, req, who, role)
    assert req.state == "executed"


def test_expiry_of_open_and_unexecuted_requests(personas, make_ready):
    req = open_request(personas, make_ready(tier=1))
    assert services.promotion_expire_due(now=timezone.now() + dt.timedelta(days=29)) == []
    assert services.promotion_expire_due(now=timezone.now() + dt.timedelta(days=31)) == [req.pk]
    req.refresh_from_db()
    assert req.state == "expired" and "deadline" in req.state_reason

    v2 = make_ready(tier=1, shap=False)
    req2 = open_request(personas, v2)
    for who, role in [("validator", "validator"), ("compliance", "compliance"), ("business", "business_approver")]:
        req2 = approve(personas, req2, who, role)
    assert req2.state == "approved"
    later = timezone.now() + dt.timedelta(days=15)
    assert services.promotion_expire_due(now=later) == [req2.pk]
    req2.refresh_from_db()
    assert req2.state == "expired" and "not executed" in req2.state_reason


def test_unmet_condition_past_due_revokes_and_demotes(personas, make_ready):
    version = make_ready(tier=1)
    req = open_request(personas, version)
    due = (timezone.now() + dt.timedelta(days=10)).date()
    approve(personas, req, "validator", "validator",
            conditions=[{"text": "Add a monthly stability report", "due_date": due.isoformat()}])
    approve(personas, req, "compliance", "compliance")
    approve(personas, req, "business", "business_approver")
    version.refresh_from_db()
    assert version.stage == "production"
    assert services.conditions_enforce(now=timezone.now() + dt.timedelta(days=5)) == []
    assert services.conditions_enforce(now=timezone.now() + dt.timedelta(days=12)) == [req.pk]
    req.refresh_from_db()
    version.refresh_from_db()
    assert req.state == "revoked" and "monthly stability report" in req.state_reason
    assert version.stage == "archived"
    assert AuditEvent.objects.filter(action="approvals.condition.breached").count() == 1


def test_met_condition_is_not_enforced(personas, make_ready):
    version = make_ready(tier=1)
    req = open_request(personas, version)
    due = (timezone.now() + dt.timedelta(days=3)).date().isoformat()
    approve(personas, req, "validator", "validator", conditions=[{"text": "Publish the model card", "due_date": due}])
    cond = req.conditions.get()
    services.condition_resolve(actor=personas["engineer"], request_id=req.pk, condition_id=cond.pk,
                               note="Published on the intranet.")
    assert services.conditions_enforce(now=timezone.now() + dt.timedelta(days=5)) == []


def test_emergency_rollback(personas, make_ready):
    version = make_ready(tier=1)
    req = open_request(personas, version)
    for who, role in [("validator", "validator"), ("compliance", "compliance"), ("business", "business_approver")]:
        approve(personas, req, who, role)
    with pytest.raises(Forbidden, match="validator or the model's owner"):
        services.version_rollback(actor=personas["engineer2"], version=version, reason="x")
    with pytest.raises(ValidationFailed, match="reason is required"):
        services.version_rollback(actor=personas["validator"], version=version, reason=" ")
    services.version_rollback(actor=personas["validator"], version=version, reason="Scores drifting on new channel")
    version.refresh_from_db()
    assert version.stage == "archived"
    event = AuditEvent.objects.filter(action="registry.version.stage_changed").latest("seq")
    assert event.payload["rollback"] is True
    assert event.payload["rollback_reason"] == "Scores drifting on new channel"
    assert event.payload["after"] == {"stage": "archived"}
    assert Notification.objects.filter(kind="version_rolled_back", user=personas["owner"]).exists()
    assert PromotionRequest.objects.get(pk=req.pk).state == "executed"


def test_tier3_needs_only_a_validator(personas, make_ready):
    version = make_ready(tier=3, name="low-risk")
    req = open_request(personas, version)
    assert req.required_roles == ["validator"]
    assert approve(personas, req, "validator", "validator").state == "executed"


def _now_an_auditor(user):
    """The requester moved to internal audit after opening the request: read-only from now."""
    RoleGrant.objects.create(user=user, role=Role.AUDITOR)
    user._role_cache = None
    return user


def test_a_requester_who_became_an_auditor_cannot_withdraw(personas, make_ready, client_for):
    req = open_request(personas, make_ready(tier=1))
    auditor = _now_an_auditor(personas["engineer"])
    with pytest.raises(Forbidden, match="Auditors have read-only access"):
        services.promotion_withdraw(actor=auditor, request_id=req.pk)
    refused = client_for("engineer").post(f"/api/v1/promotions/{req.pk}/withdraw/", {"reason": "x"})
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    req.refresh_from_db()
    assert req.state == "open"
    assert not AuditEvent.objects.filter(action="approvals.promotion.withdrawn").exists()


def test_a_requester_who_became_an_auditor_cannot_resolve_a_condition(personas, make_ready):
    req = open_request(personas, make_ready(tier=1))
    due = (timezone.now() + dt.timedelta(days=3)).date().isoformat()
    approve(personas, req, "validator", "validator", conditions=[{"text": "Publish the model card", "due_date": due}])
    cond = req.conditions.get()
    auditor = _now_an_auditor(personas["engineer"])
    with pytest.raises(Forbidden, match="Auditors have read-only access"):
        services.condition_resolve(actor=auditor, request_id=req.pk, condition_id=cond.pk,
                                   note="Published.")
    cond.refresh_from_db()
    assert cond.status == "open"
    assert not AuditEvent.objects.filter(action="approvals.condition.met").exists()
