"""The promotion workflow: the only code that changes a version's stage.

Every transition goes through `_transition`, i.e. `common.workflow.transition` (lock, check the
table, save, record). Public
services lock the request row, so concurrent decisions queue and quorum is evaluated once;
execution also locks the model row, so two versions of one model never both reach production.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import attestations, gates, notifications
from approvals.choices import (
    LIVE_STATES,
    TRANSITIONS,
    ConditionStatus,
    DecisionKind,
    State,
    TargetStage,
)
from approvals.models import ApprovalCondition, Decision, PromotionRequest
from common import workflow
from common.errors import Conflict, Forbidden, ValidationFailed
from governance import audit
from governance import permissions as perms
from oversight import selectors as ov_selectors
from oversight import services as ov_services
from registry import services as registry_services
from registry.choices import Stage
from registry.models import ModelVersion, RegisteredModel

VERBS = {
    State.APPROVED: "approved", State.EXECUTED: "executed", State.REJECTED: "rejected",
    State.WITHDRAWN: "withdrawn", State.EXPIRED: "expired", State.REVOKED: "revoked",
}


class InvalidTransition(workflow.IllegalTransition):
    code = "invalid_transition"


def _developer_ids(model: RegisteredModel) -> frozenset[int]:
    return frozenset(model.developers.values_list("id", flat=True))


def _lock(request_id: int) -> PromotionRequest:
    return (
        PromotionRequest.objects.select_for_update()
        .select_related("version__model", "model", "policy", "requested_by")
        .get(pk=request_id)
    )


def _transition(
    req: PromotionRequest, to: str, *, actor, reason: str = "", now: dt.datetime,
    payload: dict[str, Any] | None = None,
) -> PromotionRequest:
    """Every state change of a request: the common transition (the row is locked by `_lock`),
    with the timestamps that go with the new state, one audit event and the notifications."""
    # The gate report re-judged just before (`_recheck_evidence`) is saved with the new state.
    changes: dict[str, Any] = {"state_reason": reason, "gate_report": req.gate_report}
    if to == State.APPROVED:
        changes["approved_at"] = now
        changes["execute_by"] = now + dt.timedelta(
            days=req.policy.rules.get("execution_window_days", 14)
        )
    elif to == State.EXECUTED:
        changes["executed_at"] = now
        changes["approved_at"] = req.approved_at or now
    if to not in LIVE_STATES:
        changes["closed_at"] = now

    def record(before: str) -> None:
        audit.record(
            action=f"approvals.promotion.{VERBS[to]}", actor=actor, target=req,
            model_name=req.model.name,
            payload={"before": {"state": before}, "after": {"state": to}, "reason": reason,
                     **(payload or {})},
        )

    workflow.transition(
        req, to, table=TRANSITIONS, record=record, field="state", changes=changes, locked=True,
        name=f"Promotion request #{req.pk}", error=InvalidTransition,
    )
    notifications.promotion_state_changed(req, actor=actor)
    return req


# --- opening --------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def promotion_request_open(
    *, actor, version: ModelVersion, target_stage: str, justification: str, now=None
) -> PromotionRequest:
    """Open a request; snapshot required roles, gate report and evidence from the tier policy.

    Refused (400) for a model with no risk assessment or classed prohibited; one live request
    per version and target stage (409 naming the existing one)."""
    now = now or timezone.now()
    model = version.model
    if target_stage not in TargetStage.values:
        msg = "target_stage must be 'staging' or 'production'."
        raise ValidationFailed(msg, errors={"target_stage": [msg]})
    refusal = perms.explain_cannot_request_promotion(actor, model, _developer_ids(model))
    if refusal:
        raise Forbidden(refusal)
    if not (justification or "").strip():
        msg = "A justification is required: say why this version should move."
        raise ValidationFailed(msg, errors={"justification": [msg]})
    assessment = ov_selectors.risk_assessment_current(model)
    if assessment is None:
        msg = f"Model {model.name!r} has no risk assessment; assess its risk before requesting a promotion."
        raise ValidationFailed(msg, code="no_risk_assessment")
    if ov_selectors.is_prohibited(model, assessment):
        msg = (f"Model {model.name!r} is classed 'prohibited' under the EU AI Act (Art. 5); "
               "it cannot be promoted.")
        raise ValidationFailed(msg, code="prohibited")
    if version.stage == target_stage:
        raise Conflict(f"{version.ref} is already in {target_stage}.")
    existing = PromotionRequest.objects.filter(
        version=version, target_stage=target_stage, state__in=LIVE_STATES
    ).first()
    if existing:
        raise Conflict(
            f"Promotion request #{existing.pk} for {version.ref} → {target_stage} is already "
            f"{existing.state}.", code="already_open", errors={"id": [existing.pk]},
        )
    report = gates.evaluate(version, target_stage, now=now)
    policy = report.policy
    try:
        with transaction.atomic():
            req = PromotionRequest.objects.create(
                version=version, model=model, target_stage=target_stage, requested_by=actor,
                justification=justification.strip(), policy=policy,
                required_roles=report.required_roles, gate_report=report.as_dict(),
                evidence=report.evidence, evidence_fingerprint=report.fingerprint,
                deadline_at=now + dt.timedelta(days=policy.rules.get("request_deadline_days", 30)),
            )
    except IntegrityError:
        raise Conflict(f"A live promotion request for {version.ref} → {target_stage} exists.") from None
    audit.record(
        action="approvals.promotion.requested", actor=actor, target=req, model_name=model.name,
        payload={"after": {"state": State.OPEN, "version": version.ref, "target_stage": target_stage,
                           "required_roles": report.required_roles,
                           "policy": f"tier {policy.tier} v{policy.version}",
                           "gates_passed": report.passed}},
    )
    notifications.promotion_opened(req)
    return req


# --- deciding -------------------------------------------------------------------------------


def _evidence_changed(req: PromotionRequest, report: gates.GateReport) -> list[str]:
    """Which parts of the evidence differ from the request's snapshot."""
    old, new = req.evidence or {}, report.evidence
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _recheck_evidence(req: PromotionRequest, *, actor, now) -> gates.GateReport | None:
    """Re-judge the evidence. Changed evidence revokes given approvals (the request says why);
    with no approvals yet the snapshot is simply refreshed. Returns None when revoked."""
    report = gates.evaluate(req.version, req.target_stage, now=now, policy=req.policy)
    if report.fingerprint == req.evidence_fingerprint:
        req.gate_report = report.as_dict()
        return report
    changed = _evidence_changed(req, report)
    approvals = req.decisions.filter(decision=DecisionKind.APPROVE).exists()
    if approvals or req.state == State.APPROVED:
        _transition(
            req, State.REVOKED, actor=actor, now=now,
            reason="The evidence changed after approval: " + ", ".join(changed)
            + ". Approvals were given on other evidence; open a new request.",
            payload={"changed": changed, "old_evidence": req.evidence, "new_evidence": report.evidence},
        )
        return None
    req.evidence, req.evidence_fingerprint = report.evidence, report.fingerprint
    req.gate_report = report.as_dict()
    req.save(update_fields=["evidence", "evidence_fingerprint", "gate_report", "updated_at"])
    return report


@transaction.atomic(durable=True)
def promotion_decide(
    *, actor, request_id: int, decision: str, role: str, comment: str = "",
    conditions: list[dict] | None = None, now=None,
) -> PromotionRequest:
    """Record one decision. Segregation of duties is checked here and backed by constraints.
    A rejection closes the request; the last required approval executes it if every gate
    passes at that moment."""
    now = now or timezone.now()
    req = _lock(request_id)
    if decision not in DecisionKind.values:
        msg = "decision must be 'approve', 'reject' or 'request_changes'."
        raise ValidationFailed(msg, errors={"decision": [msg]})
    if req.state != State.OPEN:
        raise InvalidTransition(
            f"Promotion request #{req.pk} is {req.state}; decisions are taken only while it is open."
        )
    approvals = list(req.decisions.filter(decision=DecisionKind.APPROVE))
    refusal = perms.explain_cannot_decide(
        actor, role=role, required_roles=req.required_roles,
        filled_roles={d.role for d in approvals}, requester_id=req.requested_by_id,
        version_creator_id=req.version.created_by_id, developer_ids=_developer_ids(req.model),
        approver_ids={d.approver_id for d in approvals},
    )
    if refusal:
        raise Forbidden(refusal, code="segregation_of_duties")
    if decision != DecisionKind.APPROVE and not (comment or "").strip():
        msg = "A comment is required when rejecting or requesting changes."
        raise ValidationFailed(msg, errors={"comment": [msg]})
    parsed_conditions = _parse_conditions(conditions or [], now) if decision == DecisionKind.APPROVE else []
    report = _recheck_evidence(req, actor=actor, now=now)
    if report is None:
        return req  # revoked; the caller sees the new state and its reason
    try:
        with transaction.atomic():
            made = Decision.objects.create(
                request=req, approver=actor, role=role, decision=decision, comment=comment,
                evidence_fingerprint=req.evidence_fingerprint,
            )
    except IntegrityError:
        raise Forbidden("Segregation of duties: that role or person has already approved this request.") from None
    for text, due in parsed_conditions:
        ApprovalCondition.objects.create(request=req, decision=made, text=text, due_date=due)
    audit.record(
        action="approvals.promotion.decided", actor=actor, target=req, model_name=req.model.name,
        payload={"decision": decision, "role": role, "comment": comment,
                 "conditions": [{"text": t, "due_date": d.isoformat()} for t, d in parsed_conditions],
                 "evidence_fingerprint": req.evidence_fingerprint},
    )
    notifications.decision_recorded(req, made)
    if decision == DecisionKind.REJECT:
        return _transition(req, State.REJECTED, actor=actor, now=now, reason=f"Rejected by {actor.username} ({role}): {comment}")
    if decision == DecisionKind.APPROVE:
        filled = {d.role for d in approvals} | {role}
        if set(req.required_roles) <= filled:
            _execute_or_hold(req, actor=actor, now=now, report=report, on_final_approval=True)
    return req


def _parse_conditions(raw: list, now) -> list[tuple[str, dt.date]]:
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not str(item.get("text", "")).strip():
            raise ValidationFailed(f"conditions[{i}] needs a text.", errors={"conditions": [f"item {i}: text required"]})
        try:
            due = dt.date.fromisoformat(str(item.get("due_date", "")))
        except ValueError:
            raise ValidationFailed(f"conditions[{i}].due_date must be a date (YYYY-MM-DD).",
                                   errors={"conditions": [f"item {i}: due_date must be YYYY-MM-DD"]}) from None
        if due < now.date():
            raise ValidationFailed(f"conditions[{i}].due_date is in the past.", errors={"conditions": [f"item {i}: due date in the past"]})
        out.append((str(item["text"]).strip(), due))
    return out


def _execute_or_hold(
    req: PromotionRequest, *, actor, now, report: gates.GateReport, on_final_approval: bool = False,
) -> PromotionRequest:
    """Quorum reached: execute now if every gate passes at this moment, else hold as approved.

    Executed on the final approval, the move is the system's (actor None, shown as "system"),
    with the approvals that triggered it named in the events: the last approver decided, they
    did not execute. Executed by a person (`promotion_execute`), it is theirs."""
    if not report.passed:
        missing = "; ".join(f"{i['label']}: {i['detail']}" for i in report.items if not i["met"])
        if req.state == State.OPEN:
            _transition(req, State.APPROVED, actor=actor, now=now,
                        reason=f"All required roles approved; waiting for evidence: {missing}")
        return req
    if on_final_approval and req.policy.execution_mode(req.target_stage) == "separate":
        # The policy keeps deciding and executing apart: a person executes, and owns the move.
        _transition(req, State.APPROVED, actor=actor, now=now,
                    reason=f"Every required role approved and every gate passes. The tier "
                    f"{req.policy.tier} policy makes execution a separate step: the requester "
                    "or the model's owner or a developer executes it.",
                    payload={"execution": "separate"})
        return req
    # Lock the model row: concurrent executions for versions of one model queue here.
    model = RegisteredModel.objects.select_for_update().get(pk=req.model_id)
    version = req.version
    cause: dict[str, Any] = {
        "promotion_request": req.pk, "policy": f"tier {req.policy.tier} v{req.policy.version}",
    }
    if on_final_approval:
        actor = None
        cause["executed_by"] = "system"
        cause["triggered_by"] = _triggering_decisions(req)
    else:
        cause["executed_by"] = getattr(actor, "username", "system") if actor else "system"
    allow_many = bool(req.policy.rules.get("allow_multiple_production", False))
    archived = []
    if req.target_stage == Stage.PRODUCTION and not allow_many:
        for current in ModelVersion.objects.select_for_update().filter(model=model, stage=Stage.PRODUCTION).exclude(pk=version.pk):
            registry_services.set_stage(version=current, stage=Stage.ARCHIVED, actor=actor,
                                        reason=f"Replaced in production by {version.ref}", cause=cause)
            archived.append(current.ref)
    registry_services.set_stage(
        version=version, stage=req.target_stage, actor=actor,
        reason=f"Promotion request #{req.pk} executed", cause=cause,
        exclusive_production=not allow_many,
    )
    if req.target_stage == Stage.PRODUCTION:
        ov_services.review_schedule_after_approval(model=model, policy=req.policy, approved_at=now)
    reason = "Every required role approved and every gate passed."
    if on_final_approval:
        names = ", ".join(f"#{d['decision_id']} {d['approver']} ({d['role']})"
                          for d in cause["triggered_by"])
        reason += f" Executed by the system on the final approval; approvals {names}."
    _transition(req, State.EXECUTED, actor=actor, now=now, reason=reason,
                payload={"archived": archived, **cause})
    attestations.attestation_write(request=req, now=now)  # signed record of why it moved
    return req


def _triggering_decisions(req: PromotionRequest) -> list[dict[str, Any]]:
    """The approvals that together reached quorum, oldest first: id, approver, role."""
    return [
        {"decision_id": d.pk, "approver": d.approver.username, "role": d.role}
        for d in req.decisions.filter(decision=DecisionKind.APPROVE)
        .select_related("approver").order_by("created_at", "pk")
    ]


@transaction.atomic(durable=True)
def promotion_execute(*, actor, request_id: int, now=None) -> PromotionRequest:
    """Execute an approved request: one whose evidence was incomplete at quorum (tried again),
    or one the policy makes a separate step (`execution: "separate"`). The move is the actor's.
    Only the requester or the model's owner and developers; every gate is judged again."""
    now = now or timezone.now()
    refusal = perms.explain_cannot_write(actor)  # an auditor listed as a developer stays read-only
    if refusal:
        raise Forbidden(refusal)
    req = _lock(request_id)
    if req.state != State.APPROVED:
        raise InvalidTransition(f"Promotion request #{req.pk} is {req.state}; only an approved request can be executed.")
    if actor.pk != req.requested_by_id and not perms.is_model_owner_or_developer(actor, req.model):
        raise Forbidden("Only the requester or the model's owner and developers may execute it.")
    report = _recheck_evidence(req, actor=actor, now=now)
    if report is None:
        return req
    _execute_or_hold(req, actor=actor, now=now, report=report)
    if req.state == State.APPROVED:
        raise Conflict(f"Promotion request #{req.pk} cannot execute yet: {req.state_reason}")
    return req


@transaction.atomic(durable=True)
def promotion_withdraw(*, actor, request_id: int, reason: str = "", now=None) -> PromotionRequest:
    """Only the requester withdraws their request (and not once they are read-only)."""
    now = now or timezone.now()
    refusal = perms.explain_cannot_write(actor)
    if refusal:
        raise Forbidden(refusal)
    req = _lock(request_id)
    if actor.pk != req.requested_by_id:
        raise Forbidden("Only the person who made a request may withdraw it.")
    return _transition(req, State.WITHDRAWN, actor=actor, now=now, reason=reason or "Withdrawn by the requester.")


# --- background: evidence, expiry, conditions --------------------------------------------


def promotion_recheck_for_model(model_name: str, *, now=None) -> list[int]:
    """Re-judge the evidence of every live request of a model (after a document edit, a new job
    result, a finding opened…); returns the ids revoked."""
    revoked = []
    ids = list(PromotionRequest.objects.filter(model__name=model_name, state__in=LIVE_STATES)
               .values_list("pk", flat=True))
    for pk in ids:
        with transaction.atomic():
            req = _lock(pk)
            if req.state in LIVE_STATES and _recheck_evidence(req, actor=None, now=now or timezone.now()) is None:
                revoked.append(pk)
    return revoked


def promotion_expire_due(*, now=None) -> list[int]:
    """Expire open requests past their deadline and approved ones not executed in time."""
    now = now or timezone.now()
    due = PromotionRequest.objects.filter(state=State.OPEN, deadline_at__lt=now) | PromotionRequest.objects.filter(
        state=State.APPROVED, execute_by__lt=now)
    expired = []
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            req = _lock(pk)
            if req.state == State.OPEN and req.deadline_at < now:
                reason = f"Open past its deadline ({req.deadline_at:%Y-%m-%d})."
            elif req.state == State.APPROVED and req.execute_by and req.execute_by < now:
                reason = f"Approved but not executed by {req.execute_by:%Y-%m-%d}."
            else:
                continue
            _transition(req, State.EXPIRED, actor=None, now=now, reason=reason)
            expired.append(pk)
    return expired


@transaction.atomic(durable=True)
def condition_resolve(*, actor, request_id: int, condition_id: int, note: str = "", now=None) -> ApprovalCondition:
    """The requester or model owner marks a condition met, with a note (the evidence); never an
    auditor, whatever else they are on the request."""
    now = now or timezone.now()
    refusal = perms.explain_cannot_write(actor)
    if refusal:
        raise Forbidden(refusal)
    req = _lock(request_id)
    cond = ApprovalCondition.objects.select_for_update().filter(pk=condition_id, request=req).first()
    if cond is None:
        raise ValidationFailed(f"Request #{req.pk} has no condition {condition_id}.")
    if actor.pk != req.requested_by_id and actor.pk != req.model.owner_id:
        raise Forbidden("Only the requester or the model's owner may resolve a condition.")
    if cond.status != ConditionStatus.OPEN:
        raise Conflict(f"Condition {cond.pk} is already {cond.status}.")
    if not note.strip():
        raise ValidationFailed("Say how the condition was met (note).", errors={"note": ["required"]})
    cond.status, cond.resolved_by, cond.resolved_at, cond.resolution_note = ConditionStatus.MET, actor, now, note
    cond.save()
    audit.record(action="approvals.condition.met", actor=actor, target=cond, object_repr=cond.text[:200],
                 model_name=req.model.name, payload={"request": req.pk, "note": note})
    return cond


def conditions_enforce(*, now=None) -> list[int]:
    """Conditions unmet past their due date revoke the promotion's approval (and demote an
    executed version), with notifications. Returns the request ids revoked."""
    now = now or timezone.now()
    revoked = []
    overdue = ApprovalCondition.objects.filter(status=ConditionStatus.OPEN, due_date__lt=now.date())
    for cond_id, req_id in list(overdue.values_list("pk", "request_id")):
        with transaction.atomic():
            req = _lock(req_id)
            cond = ApprovalCondition.objects.select_for_update().get(pk=cond_id)
            if cond.status != ConditionStatus.OPEN:
                continue
            cond.status = ConditionStatus.BREACHED
            cond.save(update_fields=["status"])
            audit.record(action="approvals.condition.breached", actor=None, target=cond,
                         object_repr=cond.text[:200], model_name=req.model.name,
                         payload={"request": req.pk, "due_date": cond.due_date.isoformat()})
            if req.state in (State.OPEN, State.APPROVED, State.EXECUTED):
                demoted = None
                if req.state == State.EXECUTED and req.version.stage == req.target_stage:
                    registry_services.set_stage(
                        version=req.version, stage=Stage.ARCHIVED, actor=None,
                        reason=f"Condition of approval not met by {cond.due_date}: {cond.text}",
                        cause={"promotion_request": req.pk, "condition": cond.pk},
                    )
                    demoted = req.version.ref
                _transition(req, State.REVOKED, actor=None, now=now,
                            reason=f"Condition not met by {cond.due_date}: {cond.text}",
                            payload={"condition": cond.pk, "demoted": demoted})
                revoked.append(req.pk)
    return revoked


# --- emergency rollback ----------------------------------------------------------------------


@transaction.atomic(durable=True)
def version_rollback(*, actor, version: ModelVersion, reason: str) -> ModelVersion:
    """Demote a production (or staging) version at once. Validators and the model owner only;
    a reason is mandatory; restoring the version needs a new promotion request."""
    refusal = perms.explain_cannot_rollback(actor, version.model)
    if refusal:
        raise Forbidden(refusal)
    if not (reason or "").strip():
        raise ValidationFailed("A reason is required for an emergency rollback.", errors={"reason": ["required"]})
    RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if version.stage not in (Stage.PRODUCTION, Stage.STAGING):
        raise Conflict(f"{version.ref} is in {version.stage}; only a staging or production version can be rolled back.")
    before = version.stage
    # One state change, one audit event: the stage change records that it was a rollback, and why.
    version = registry_services.set_stage(
        version=version, stage=Stage.ARCHIVED, actor=actor, reason=f"Emergency rollback: {reason}",
        cause={"rollback": True, "rollback_reason": reason},
    )
    notifications.version_rolled_back(version, actor=actor, reason=reason, from_stage=before)
    return version


# --- archiving -------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def _archive_development(*, actor, version: ModelVersion, reason: str) -> ModelVersion:
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if version.stage != Stage.DEVELOPMENT:
        raise Conflict(f"{version.ref} moved to {version.stage} meanwhile; archive it again.")
    return registry_services.set_stage(
        version=version, stage=Stage.ARCHIVED, actor=actor, reason=reason,
        cause={"archived": True},
    )


def version_archive(*, actor, version: ModelVersion, reason: str) -> ModelVersion:
    """Archive a version. One still in development is archived by its owning team (it was never
    approved for anything, so nothing is withdrawn from use); one in staging or production
    leaves it only through the emergency rollback (validators and the model owner, with a
    reason, notified). Archiving an archived version changes nothing."""
    # The stage as it is now, not as the caller last read it (the rule depends on it).
    stage = ModelVersion.objects.filter(pk=version.pk).values_list("stage", flat=True).get()
    if stage == Stage.ARCHIVED:
        return version
    if stage == Stage.DEVELOPMENT:
        refusal = perms.explain_cannot_edit_model(actor, version.model)
        if refusal:
            raise Forbidden(refusal)
        return _archive_development(actor=actor, version=version, reason=reason)
    return version_rollback(actor=actor, version=version, reason=reason)
