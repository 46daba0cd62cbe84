"""Use restrictions: record one, withdraw one. Each writes its audit event in the same transaction."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from common.errors import Conflict, Forbidden, ValidationFailed
from governance import audit
from governance import permissions as perms
from oversight.choices import RestrictionKind
from oversight.models import UseRestriction


def _snapshot(r: UseRestriction) -> dict:
    return {"kind": r.kind, "text": r.text,
            "expires_on": r.expires_on.isoformat() if r.expires_on else None}


@transaction.atomic(durable=True)
def use_restriction_add(
    *, actor, model, kind: str, text: str, expires_on: dt.date | None = None
) -> UseRestriction:
    """Record a restriction on a model's use (the owning team, validators, compliance). An
    expiry, if given, is today or later: a restriction that never applied is not recorded."""
    refusal = perms.explain_cannot_edit_use_restrictions(actor, model)
    if refusal:
        raise Forbidden(refusal)
    errors: dict[str, list[str]] = {}
    if kind not in RestrictionKind.values:
        errors["kind"] = [f"Unknown kind {kind!r}; choose one of: {', '.join(RestrictionKind.values)}."]
    if not (text or "").strip():
        errors["text"] = ["Say what the restriction is (text is required)."]
    if expires_on is not None and expires_on < timezone.localdate():
        errors["expires_on"] = ["The expiry date is in the past; a restriction must apply today or later."]
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first][0]}", errors=errors)
    restriction = UseRestriction.objects.create(
        model=model, kind=kind, text=text.strip(), expires_on=expires_on, created_by=actor,
    )
    audit.record(
        action="oversight.use_restriction.recorded", actor=actor, target=restriction,
        model_name=model.name, payload={"after": _snapshot(restriction)},
    )
    return restriction


@transaction.atomic(durable=True)
def use_restriction_withdraw(*, actor, restriction: UseRestriction, reason: str) -> UseRestriction:
    """Withdraw a restriction that no longer applies, saying why (kept in the record). One
    the second line imposed is withdrawn only by the second line (or an admin)."""
    restriction = (UseRestriction.objects.select_for_update(of=("self",))
                   .select_related("model", "created_by").get(pk=restriction.pk))
    refusal = perms.explain_cannot_withdraw_use_restriction(
        actor, restriction.model,
        imposed_by_second_line=perms.is_second_line_or_admin(restriction.created_by))
    if refusal:
        raise Forbidden(refusal)
    if restriction.withdrawn_at is not None:
        raise Conflict(f"Use restriction #{restriction.pk} was already withdrawn.")
    if not (reason or "").strip():
        msg = "Say why the restriction is withdrawn (reason is required)."
        raise ValidationFailed(msg, errors={"reason": [msg]})
    restriction.withdrawn_by, restriction.withdrawn_at = actor, timezone.now()
    restriction.withdrawn_reason = reason.strip()
    restriction.save(update_fields=["withdrawn_by", "withdrawn_at", "withdrawn_reason"])
    audit.record(
        action="oversight.use_restriction.withdrawn", actor=actor, target=restriction,
        model_name=restriction.model.name,
        payload={"before": _snapshot(restriction), "reason": restriction.withdrawn_reason},
    )
    return restriction
