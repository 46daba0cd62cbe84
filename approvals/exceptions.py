"""Policy exceptions: a waiver of one gate for one version, asked for, decided, withdrawn and
expired. The services of `PolicyException`; reads are in `approvals.selectors`.

Every status change goes through `_transition` (common.workflow.transition: lock, check the
table, save, record one audit event). A change that waives or un-waives a gate publishes
`evidence_changed`, so live promotion requests of the model re-judge their gates after commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import gates
from approvals.choices import (
    EXCEPTION_NOTICE_DAYS,
    EXCEPTION_TRANSITIONS,
    LIVE_EXCEPTION_STATES,
    DecisionKind,
    ExceptionStatus,
)
from approvals.models import ExceptionApproval, PolicyException
from approvals.notifications import _users_with_roles, notify
from common import workflow
from common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from governance import audit
from governance import permissions as perms
from governance import selectors as gov
from governance.events import evidence_changed
from governance.policy import exception_rules
from oversight import selectors as ov_selectors
from registry.models import ModelVersion

VERBS = {
    ExceptionStatus.APPROVED: "approved", ExceptionStatus.REJECTED: "rejected",
    ExceptionStatus.WITHDRAWN: "withdrawn", ExceptionStatus.EXPIRED: "expired",
}


class InvalidExceptionTransition(workflow.IllegalTransition):
    code = "invalid_transition"


def waivable_gates() -> list[str]:
    """The gates an exception may waive: the evidence registry's waivable entries (never the
    EU AI Act's prohibited practices, the risk assessment they are judged from, nor an
    always-applied gate such as an open serious incident)."""
    return [key for key, e in gates.EVIDENCE.items() if e.waivable]


def exception_link(exc: PolicyException) -> str:
    return f"/exceptions/{exc.pk}/"


def _policy_for(version: ModelVersion):
    assessment = ov_selectors.risk_assessment_current(version.model)
    tier = assessment.effective_tier if assessment else version.model.risk_tier
    return gov.policy_for_tier(tier or 1)


def _lock(exception_id: int) -> PolicyException:
    found = (PolicyException.objects.select_for_update(of=("self",))
             .select_related("version__model", "model__owner", "requested_by", "policy")
             .filter(pk=exception_id).first())
    if found is None:
        raise NotFound(f"No policy exception #{exception_id}.")
    return found


def _snapshot(exc: PolicyException) -> dict[str, Any]:
    return {"version": exc.version.ref, "gate": exc.gate, "status": exc.status,
            "expires_at": exc.expires_at.isoformat(), "approver_roles": exc.approver_roles}


def _transition(exc: PolicyException, to: str, *, actor, now: dt.datetime, reason: str) -> None:
    changes: dict[str, Any] = {"status_reason": reason}
    if to == ExceptionStatus.APPROVED:
        changes["approved_at"] = now
    else:
        changes["closed_at"] = now

    def record(before: str) -> None:
        audit.record(
            action=f"approvals.exception.{VERBS[to]}", actor=actor, target=exc,
            model_name=exc.model.name,
            payload={"before": {"status": before}, "after": {"status": to}, "reason": reason,
                     "gate": exc.gate, "version": exc.version.ref,
                     "expires_at": exc.expires_at.isoformat()},
        )
        if to == ExceptionStatus.APPROVED or before == ExceptionStatus.APPROVED:
            evidence_changed(exc.model.name)  # the gate opens or closes: promotions re-judge

    workflow.transition(exc, to, table=EXCEPTION_TRANSITIONS, record=record, changes=changes,
                        locked=True, name=f"Policy exception #{exc.pk}",
                        error=InvalidExceptionTransition)
    notify([exc.requested_by, exc.model.owner], kind=f"exception_{VERBS[to]}",
           subject=f"Policy exception #{exc.pk} {VERBS[to]}: {gates.label(exc.gate)} on {exc.version.ref}",
           body=reason, link=exception_link(exc))


def _parse_expiry(value: dt.datetime | dt.date | None) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    if isinstance(value, dt.date):
        # A date means the end of that day where the portal runs.
        end = dt.datetime.combine(value, dt.time(23, 59, 59))
        return timezone.make_aware(end)
    return None


@transaction.atomic(durable=True)
def exception_request(
    *, actor, version: ModelVersion, gate: str, reason: str, compensating_controls: str,
    expires_at: dt.datetime | dt.date | None, now: dt.datetime | None = None,
) -> PolicyException:
    """Ask to waive `gate` for `version` until `expires_at` (at most the tier policy's
    `exception_max_days` from now). The model's owner and developers ask; the roles the
    policy names decide. One live exception per version and gate."""
    now = now or timezone.now()
    model = version.model
    developer_ids = frozenset(model.developers.values_list("id", flat=True))
    refusal = perms.explain_cannot_request_exception(actor, model, developer_ids)
    if refusal:
        raise Forbidden(refusal)
    policy = _policy_for(version)
    max_days, roles = exception_rules(policy.rules)
    errors: dict[str, list[str]] = {}
    allowed = waivable_gates()
    if gate in gates.EVIDENCE and gate not in allowed:
        errors["gate"] = [f"{gates.label(gate)} ({gate}) cannot be waived by an exception; an "
                          f"exception may waive one of: {', '.join(allowed)}."]
    elif gate not in allowed:
        errors["gate"] = [f"Unknown gate {gate!r}; an exception may waive one of: {', '.join(allowed)}."]
    if not (reason or "").strip():
        errors["reason"] = ["Say why the gate should be waived (reason is required)."]
    if not (compensating_controls or "").strip():
        errors["compensating_controls"] = [
            "Name the compensating controls that stand in for the gate (required)."]
    expiry = _parse_expiry(expires_at)
    if expiry is None:
        errors["expires_at"] = ["An exception needs an expiry (date or date-time)."]
    elif expiry <= now:
        errors["expires_at"] = ["The expiry must be in the future."]
    elif expiry > now + dt.timedelta(days=max_days):
        errors["expires_at"] = [
            f"The expiry is past the policy's maximum: the tier {policy.tier} policy "
            f"(v{policy.version}) allows exceptions of at most {max_days} days "
            f"(exception_max_days), i.e. until {(now + dt.timedelta(days=max_days)):%Y-%m-%d %H:%M}."]
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first][0]}", errors=errors)
    existing = PolicyException.objects.filter(
        version=version, gate=gate, status__in=LIVE_EXCEPTION_STATES).first()
    if existing:
        raise Conflict(f"Policy exception #{existing.pk} for {gate} on {version.ref} is already "
                       f"{existing.status}.", code="already_open", errors={"id": [existing.pk]})
    try:
        with transaction.atomic():
            exc = PolicyException.objects.create(
                version=version, model=model, gate=gate, reason=reason.strip(),
                compensating_controls=compensating_controls.strip(), expires_at=expiry,
                requested_by=actor, policy=policy, approver_roles=roles,
            )
    except IntegrityError:
        raise Conflict(f"A live policy exception for {gate} on {version.ref} exists.") from None
    audit.record(
        action="approvals.exception.requested", actor=actor, target=exc, model_name=model.name,
        payload={"after": {**_snapshot(exc), "reason": exc.reason,
                           "compensating_controls": exc.compensating_controls,
                           "policy": f"tier {policy.tier} v{policy.version}",
                           "max_days": max_days}},
    )
    notify(_users_with_roles(roles).exclude(pk=actor.pk), kind="exception_requested",
           subject=f"Policy exception #{exc.pk} awaits {', '.join(roles)}: "
                   f"waive {gates.label(gate)} on {version.ref}",
           body=f"{actor.username} asks until {expiry:%Y-%m-%d}: {exc.reason}\n\n"
                f"Compensating controls: {exc.compensating_controls}",
           link=exception_link(exc))
    return exc


@transaction.atomic(durable=True)
def exception_decide(
    *, actor, exception_id: int, decision: str, role: str, comment: str = "",
    now: dt.datetime | None = None,
) -> PolicyException:
    """One decision in one role. The requester and the person who registered the version never
    decide (403, segregation of duties); a rejection closes the exception; the last role's
    approval approves it, from which moment (until its expiry) the gate is waived."""
    now = now or timezone.now()
    exc = _lock(exception_id)
    if decision not in (DecisionKind.APPROVE, DecisionKind.REJECT):
        msg = "decision must be 'approve' or 'reject'."
        raise ValidationFailed(msg, errors={"decision": [msg]})
    if exc.status != ExceptionStatus.REQUESTED:
        raise InvalidExceptionTransition(
            f"Policy exception #{exc.pk} is {exc.status}; decisions are taken only while it is requested.")
    approvals = list(exc.decisions.filter(decision=DecisionKind.APPROVE))
    refusal = perms.explain_cannot_decide_exception(
        actor, role=role, approver_roles=exc.approver_roles,
        filled_roles={d.role for d in approvals}, requester_id=exc.requested_by_id,
        version_creator_id=exc.version.created_by_id,
        developer_ids=frozenset(exc.model.developers.values_list("id", flat=True)),
        approver_ids={d.approver_id for d in approvals},
    )
    if refusal:
        raise Forbidden(refusal, code="segregation_of_duties")
    if decision == DecisionKind.REJECT and not (comment or "").strip():
        msg = "A comment is required when rejecting an exception."
        raise ValidationFailed(msg, errors={"comment": [msg]})
    if exc.expires_at <= now:
        raise Conflict(f"Policy exception #{exc.pk} expired on {exc.expires_at:%Y-%m-%d}; ask again.")
    try:
        with transaction.atomic():
            made = ExceptionApproval.objects.create(exception=exc, approver=actor, role=role,
                                                    decision=decision, comment=comment or "")
    except IntegrityError:
        raise Forbidden("Segregation of duties: that role or person has already approved this "
                        "exception.", code="segregation_of_duties") from None
    audit.record(
        action="approvals.exception.decided", actor=actor, target=exc, model_name=exc.model.name,
        payload={"decision": decision, "role": role, "comment": made.comment, "gate": exc.gate},
    )
    if decision == DecisionKind.REJECT:
        _transition(exc, ExceptionStatus.REJECTED, actor=actor, now=now,
                    reason=f"Rejected by {actor.username} ({role}): {comment}")
    elif set(exc.approver_roles) <= {d.role for d in approvals} | {role}:
        names = ", ".join(sorted({f"{d.approver.username} ({d.role})" for d in approvals}
                                 | {f"{actor.username} ({role})"}))
        _transition(exc, ExceptionStatus.APPROVED, actor=actor, now=now,
                    reason=f"Approved by {names}; waives {gates.label(exc.gate)} until "
                           f"{exc.expires_at:%Y-%m-%d %H:%M}.")
    return exc


@transaction.atomic(durable=True)
def exception_withdraw(*, actor, exception_id: int, reason: str = "",
                       now: dt.datetime | None = None) -> PolicyException:
    """The requester or the model's owner withdraws an exception (the gate closes again)."""
    now = now or timezone.now()
    exc = _lock(exception_id)
    refusal = perms.explain_cannot_write(actor)
    if refusal:
        raise Forbidden(refusal)
    if actor.pk not in (exc.requested_by_id, exc.model.owner_id):
        raise Forbidden("Only the person who requested an exception, or the model's owner, may "
                        "withdraw it.")
    _transition(exc, ExceptionStatus.WITHDRAWN, actor=actor, now=now,
                reason=(reason or "").strip() or f"Withdrawn by {actor.username}.")
    return exc


def exceptions_expire_due(*, now: dt.datetime | None = None) -> list[int]:
    """Mark every live exception past its expiry expired (audited; requester and owner told).
    The gate already closed at `expires_at` (gates judge at their `now`); this records it."""
    now = now or timezone.now()
    due = PolicyException.objects.filter(status__in=LIVE_EXCEPTION_STATES, expires_at__lte=now)
    expired = []
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            exc = _lock(pk)
            if exc.status not in LIVE_EXCEPTION_STATES or exc.expires_at > now:
                continue
            what = "waiver" if exc.status == ExceptionStatus.APPROVED else "request"
            _transition(exc, ExceptionStatus.EXPIRED, actor=None, now=now,
                        reason=f"The {what} ran until {exc.expires_at:%Y-%m-%d %H:%M}; "
                               f"{gates.label(exc.gate)} is required again.")
            expired.append(pk)
    return expired


def exceptions_notify_expiring(*, now: dt.datetime | None = None) -> list[int]:
    """Tell the model's owner (and the requester), once, that an approved exception expires
    within EXCEPTION_NOTICE_DAYS days; `expiry_notified_at` is stamped under the row lock, so
    concurrent sweeps notify once."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(days=EXCEPTION_NOTICE_DAYS)
    due = PolicyException.objects.filter(status=ExceptionStatus.APPROVED, expires_at__gt=now,
                                         expires_at__lte=horizon, expiry_notified_at__isnull=True)
    notified = []
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            exc = _lock(pk)
            if exc.status != ExceptionStatus.APPROVED or exc.expiry_notified_at is not None:
                continue
            exc.expiry_notified_at = now
            exc.save(update_fields=["expiry_notified_at", "updated_at"])
            audit.record(
                action="approvals.exception.expiry_notified", actor=None, target=exc,
                model_name=exc.model.name,
                payload={"gate": exc.gate, "version": exc.version.ref,
                         "expires_at": exc.expires_at.isoformat(),
                         "notified": [u.username for u in (exc.model.owner, exc.requested_by) if u]},
            )
            notify([exc.model.owner, exc.requested_by], kind="exception_expiring",
                   subject=f"Policy exception #{exc.pk} expires on {exc.expires_at:%Y-%m-%d}: "
                           f"{gates.label(exc.gate)} on {exc.version.ref}",
                   body=f"From {exc.expires_at:%Y-%m-%d %H:%M} the gate is required again. "
                        "Provide the evidence, or ask for a new exception.",
                   link=exception_link(exc))
            notified.append(pk)
    return notified


def exceptions_sweep(*, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """Beat's housekeeping: notices for those expiring soon, then expiry for those past."""
    now = now or timezone.now()
    return {"notified": exceptions_notify_expiring(now=now),
            "expired": exceptions_expire_due(now=now)}
