"""Reads for promotions: visibility, the inbox, and what the caller may do on a request."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from approvals.choices import LIVE_STATES, DecisionKind, State
from approvals.models import Decision, Notification, PromotionRequest
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
    return {
        "decide_as": may_decide_as,
        "decide_refusals": {role: why for role, why in decide.items() if why},
        "withdraw": req.state in LIVE_STATES and user.pk == req.requested_by_id,
        "execute": req.state == State.APPROVED and (
            user.pk == req.requested_by_id or user.pk == req.model.owner_id or user.pk in developer_ids
        ),
        # condition_resolve's rule: the requester or the model's owner marks a condition met.
        "resolve_conditions": user.pk in (req.requested_by_id, req.model.owner_id),
    }


def notifications_for_user(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)
