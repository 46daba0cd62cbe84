"""Governance reads: tier policies, documentation templates, the audit record. Registry rows
are taken as arguments, never imported or looked up by label."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from common.errors import Conflict, NotFound
from governance import permissions as perms
from governance.models import AuditEvent, DocumentTemplate, Team, TierPolicy

STAGE_CHANGED = "registry.version.stage_changed"


class NoActivePolicy(Conflict):
    code = "no_policy"


# --- policies -----------------------------------------------------------------------------


def policy_for_tier(tier: int) -> TierPolicy:
    """The active policy version of a tier. Raises NoActivePolicy (409) if there is none."""
    policy = TierPolicy.objects.filter(tier=tier, is_active=True).first()
    if policy is None:
        raise NoActivePolicy(
            f"There is no active policy for risk tier {tier!r}; an administrator must publish one."
        )
    return policy


def policy_list(*, tier: int | None = None, active_only: bool = False) -> QuerySet[TierPolicy]:
    qs = TierPolicy.objects.select_related("created_by").order_by("tier", "-version")
    if tier is not None:
        qs = qs.filter(tier=tier)
    if active_only:
        qs = qs.filter(is_active=True)
    return qs


def policy_get(tier: int, version: int) -> TierPolicy:
    policy = TierPolicy.objects.filter(tier=tier, version=version).first()
    if policy is None:
        raise NotFound(f"No version {version} of the tier {tier} policy.")
    return policy


# --- templates ----------------------------------------------------------------------------


def template_list() -> QuerySet[DocumentTemplate]:
    return DocumentTemplate.objects.filter(is_active=True).order_by("slug")


# --- the audit record ---------------------------------------------------------------------


def audit_events_for_user(user) -> QuerySet[AuditEvent]:
    """Governance roles (validators, compliance, business approvers, auditors, admins) read the
    whole record. Everyone else reads the events about their teams' models and their own actions.
    """
    qs = AuditEvent.objects.order_by("seq")
    if perms.can_read_everything(user):
        return qs
    # The names of their teams' models, through the registry's foreign key to Team (`Team.models`):
    # a relation the registry declares, so governance needs no lookup of the registry's models.
    names = Team.objects.filter(pk__in=user.team_ids, models__isnull=False).values("models__name")
    return qs.filter(Q(model_name__in=names) | Q(actor_id=user.pk))


def audit_last_positions(object_type: str, object_ids: list[int]) -> dict[int, int]:
    """For each object: the position of its newest audit event (objects without one are
    absent), in one query for the lot."""
    from django.db.models import Max

    rows = (AuditEvent.objects.filter(object_type=object_type,
                                      object_id__in=[str(i) for i in object_ids])
            .order_by().values("object_id").annotate(last=Max("seq")))
    return {int(r["object_id"]): r["last"] for r in rows}


def stage_history(model, *, at: dt.datetime | None = None) -> dict[str, Any]:
    """The stage changes of a model's versions, replayed from the audit record, and (with `at`)
    which versions were in each stage at that moment."""
    events = list(
        AuditEvent.objects.filter(model_name=model.name, action=STAGE_CHANGED)
        .order_by("seq")
        .values("seq", "timestamp", "object_id", "object_repr", "actor_name", "payload")
    )
    changes = []
    for e in events:
        payload = e["payload"] or {}
        changes.append({
            "seq": e["seq"], "timestamp": e["timestamp"], "version": _version_number(e["object_repr"]),
            "version_id": e["object_id"], "actor": e["actor_name"],
            "from": (payload.get("before") or {}).get("stage"),
            "to": (payload.get("after") or {}).get("stage"), "reason": payload.get("reason", ""),
        })
    out: dict[str, Any] = {"model": model.name, "changes": changes}
    if at is not None:
        state: dict[str, dict[str, Any]] = {}
        for c in changes:
            if c["timestamp"] <= at:
                state[c["version_id"]] = c
        by_stage: dict[str, list[dict[str, Any]]] = {}
        for c in state.values():
            if c["to"]:
                by_stage.setdefault(c["to"], []).append(
                    {"version": c["version"], "since": c["timestamp"], "seq": c["seq"]})
        out["at"] = at
        out["in_stage"] = {k: sorted(v, key=lambda x: x["version"] or 0) for k, v in by_stage.items()}
        out["in_production"] = out["in_stage"].get("production", [])
    return out


def _version_number(repr_: str) -> int | None:
    _, _, tail = (repr_ or "").rpartition("@")
    return int(tail) if tail.isdigit() else None
