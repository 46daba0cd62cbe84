"""Reads for promotions: visibility, the inbox, and what the caller may do on a request."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from approvals.choices import (
    EXCEPTION_NOTICE_DAYS,
    LIVE_STATES,
    DecisionKind,
    ExceptionStatus,
    State,
)
from approvals.models import (
    Decision,
    ExceptionApproval,
    Notification,
    PolicyException,
    PromotionRequest,
)
from common.errors import NotFound
from governance import permissions as perms
from governance.choices import Role


def promotion_list_for_user(user) -> QuerySet[PromotionRequest]:
    qs = PromotionRequest.objects.select_related(
        "version__model", "model__team", "requested_by", "policy"
    ).prefetch_related(
        Prefetch("decisions", queryset=Decision.objects.select_related("approver")),
        "conditions",
        "model__developers",
    )
    if not perms.can_read_everything(user):
        qs = qs.filter(model__team_id__in=user.team_ids)
    return qs


def promotions_for_version(version) -> QuerySet[PromotionRequest]:
    """Every promotion request of one version, oldest first, with its decisions (and their
    approvers) and conditions: the decisions the documentation pack records."""
    return (
        PromotionRequest.objects.filter(version=version)
        .select_related("requested_by", "policy")
        .prefetch_related(
            Prefetch("decisions", queryset=Decision.objects.select_related("approver")),
            "conditions",
        )
        .order_by("created_at", "id")
    )


def promotion_get_for_user(user, request_id) -> PromotionRequest:
    req = promotion_list_for_user(user).filter(pk=request_id).first()
    if req is None:
        raise NotFound(f"No promotion request #{request_id} that you can see.")
    return req


def awaiting_role(qs: QuerySet[PromotionRequest], role: str) -> QuerySet[PromotionRequest]:
    """Open requests that need `role` and have no approval in that role yet."""
    approved = Decision.objects.filter(request=OuterRef("pk"), role=role, decision=DecisionKind.APPROVE)
    return qs.filter(state=State.OPEN, required_roles__icontains=f'"{role}"').exclude(Exists(approved))


def inbox_for_user(user) -> QuerySet[PromotionRequest]:
    """Requests awaiting a role the user holds, oldest first, excluding ones SoD bars them from
    (their own requests)."""
    roles = [r for r in user.role_names if r != Role.AUDITOR]
    if not roles:
        return PromotionRequest.objects.none()
    query = Q()
    base = promotion_list_for_user(user)
    for role in roles:
        query |= Q(pk__in=awaiting_role(PromotionRequest.objects.all(), role).values("pk"))
    return base.filter(query).exclude(requested_by=user).order_by("created_at")


def allowed_actions(user, req: PromotionRequest) -> dict:
    """What the caller may do on this request, with the rule for each refusal (for the API and
    the portal's buttons). Uses the prefetched decisions: no extra queries per request."""
    approvals = [d for d in req.decisions.all() if d.decision == DecisionKind.APPROVE]
    developer_ids = frozenset(u.pk for u in req.model.developers.all())
    decide: dict[str, str | None] = {}
    for role in req.required_roles:
        if req.state != State.OPEN:
            decide[role] = f"The request is {req.state}."
            continue
        decide[role] = perms.explain_cannot_decide(
            user, role=role, required_roles=req.required_roles,
            filled_roles={d.role for d in approvals}, requester_id=req.requested_by_id,
            version_creator_id=req.version.created_by_id, developer_ids=developer_ids,
            approver_ids={d.approver_id for d in approvals},
        )
    may_decide_as = [role for role, why in decide.items() if why is None]
    writes = perms.explain_cannot_write(user) is None  # the services refuse auditors first
    return {
        "decide_as": may_decide_as,
        "decide_refusals": {role: why for role, why in decide.items() if why},
        "withdraw": writes and req.state in LIVE_STATES and user.pk == req.requested_by_id,
        "execute": writes and req.state == State.APPROVED and (
            user.pk == req.requested_by_id or user.pk == req.model.owner_id or user.pk in developer_ids
        ),
        # condition_resolve's rule: the requester or the model's owner marks a condition met.
        "resolve_conditions": writes and user.pk in (req.requested_by_id, req.model.owner_id),
    }


def notifications_for_user(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)


# --- policy exceptions ----------------------------------------------------------------------

#: The exceptions register's filters: in force now, in force but expiring within the notice
#: period, expired (recorded expired, or approved and past expiry before beat recorded it).
EXCEPTION_FILTERS = ("active", "expiring", "expired", "requested", "all")


def exception_list_for_user(user) -> QuerySet[PolicyException]:
    """Exceptions on models the user can see, with what a list row shows (no per-row queries)."""
    qs = PolicyException.objects.select_related(
        "version__model", "model__owner", "requested_by", "policy",
    ).prefetch_related(
        Prefetch("decisions", queryset=ExceptionApproval.objects.select_related("approver")),
    )
    if not perms.can_read_everything(user):
        qs = qs.filter(model__team_id__in=user.team_ids)
    return qs


def exception_get_for_user(user, exception_id) -> PolicyException:
    found = exception_list_for_user(user).filter(pk=exception_id).first()
    if found is None:
        raise NotFound(f"No policy exception #{exception_id} that you can see.")
    return found


def exceptions_filtered(qs: QuerySet[PolicyException], state: str, *, now) -> QuerySet[PolicyException]:
    """One of EXCEPTION_FILTERS applied at `now`."""
    approved = Q(status=ExceptionStatus.APPROVED)
    if state == "active":
        return qs.filter(approved, expires_at__gt=now).order_by("expires_at", "pk")
    if state == "expiring":
        horizon = now + dt.timedelta(days=EXCEPTION_NOTICE_DAYS)
        return qs.filter(approved, expires_at__gt=now, expires_at__lte=horizon).order_by("expires_at", "pk")
    if state == "expired":
        return qs.filter(Q(status=ExceptionStatus.EXPIRED) | (approved & Q(expires_at__lte=now))
                         ).order_by("-expires_at", "-pk")
    if state == "requested":
        return qs.filter(status=ExceptionStatus.REQUESTED, expires_at__gt=now)
    return qs


def exception_display_state(exc: PolicyException, *, now) -> str:
    """What a person should read: approved-but-past-expiry is expired already (the gate closed)."""
    if exc.status == ExceptionStatus.APPROVED:
        if exc.expires_at <= now:
            return "expired"
        if exc.expires_at <= now + dt.timedelta(days=EXCEPTION_NOTICE_DAYS):
            return "expiring"
        return "active"
    return exc.status


def exceptions_for_version(version, *, now=None) -> list[PolicyException]:
    """Every exception of a version, newest first, with `display_state` at `now`."""
    return exceptions_for_versions([version.pk], now=now)[version.pk]


def exceptions_for_versions(version_ids: list[int], *, now=None) -> dict[int, list[PolicyException]]:
    """`exceptions_for_version` for several versions, in two queries for the lot."""
    now = now or timezone.now()
    out: dict[int, list[PolicyException]] = {pk: [] for pk in version_ids}
    rows = (PolicyException.objects.filter(version_id__in=version_ids).select_related("requested_by")
            .prefetch_related(Prefetch("decisions", queryset=ExceptionApproval.objects
                                       .select_related("approver"))))
    for exc in rows:
        exc.display_state = exception_display_state(exc, now=now)
        out[exc.version_id].append(exc)
    return out


def exceptions_register(version, *, now=None) -> dict:
    """The register's state for one version (the crosswalk's "register:exceptions"): every
    exception to policy on it is recorded with its waiver, its approvers and its expiry; met
    unless a gate is waived past its expiry (an exception in force, or recorded expired, is
    evidence of governance; one lapsed without being recorded is not)."""
    return exceptions_registers([version.pk], now=now)[version.pk]


def exceptions_registers(version_ids: list[int], *, now=None) -> dict[int, dict]:
    """`exceptions_register` for several versions, in two queries for the lot."""
    now = now or timezone.now()
    return {pk: _exceptions_state(rows) for pk, rows in exceptions_for_versions(version_ids, now=now).items()}


def _exceptions_state(rows: list[PolicyException]) -> dict:
    def row(e):
        return {"id": e.pk, "gate": e.gate, "status": e.status, "state": e.display_state,
                "expires_at": e.expires_at.isoformat(),
                "approved_by": [f"{d.approver.username} ({d.role})" for d in e.decisions.all()
                                if d.decision == DecisionKind.APPROVE]}

    active = [row(e) for e in rows if e.display_state in ("active", "expiring")]
    lapsed = [row(e) for e in rows if e.status == ExceptionStatus.APPROVED
              and e.display_state == "expired"]
    return {
        "met": not lapsed,
        "active": active, "expired": [row(e) for e in rows if e.status == ExceptionStatus.EXPIRED],
        "requested": [row(e) for e in rows if e.status == ExceptionStatus.REQUESTED],
        "detail": (f"{len(lapsed)} exception(s) past expiry not yet recorded expired" if lapsed
                   else f"{len(active)} exception(s) in force, each approved and with an expiry"
                   if active else "No exception to policy on this version."),
    }

