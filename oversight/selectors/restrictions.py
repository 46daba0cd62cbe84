"""Reads of use restrictions: what applies to a model now, and the register's state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from oversight.models import UseRestriction


def use_restrictions_for(model, *, today: dt.date | None = None,
                         include_withdrawn: bool = False) -> list[UseRestriction]:
    """The model's restrictions (one query), each with `expired` set for `today`: in force
    first, then expired; withdrawn ones only when asked."""
    today = today or timezone.localdate()
    qs: QuerySet[UseRestriction] = UseRestriction.objects.filter(model=model).select_related(
        "created_by", "withdrawn_by")
    if not include_withdrawn:
        qs = qs.filter(withdrawn_at__isnull=True)
    rows = list(qs)
    for r in rows:
        r.expired = r.is_expired(today)
        r.withdrawn = r.withdrawn_at is not None
    return sorted(rows, key=lambda r: (r.withdrawn, r.expired, r.kind, r.created_at, r.pk))


def use_restrictions_register(model, *, today: dt.date | None = None) -> dict[str, Any]:
    """The register's state for a model (the crosswalk's "register:use_restrictions"): met when
    at least one restriction is in force; the rows in force and the expired ones."""
    return use_restrictions_registers([model.pk], today=today)[model.pk]


def use_restrictions_registers(model_ids: list[int], *, today: dt.date | None = None
                               ) -> dict[int, dict[str, Any]]:
    """`use_restrictions_register` for several models, in one query for the lot."""
    out: dict[int, dict[str, Any]] = {}
    for pk, rows in use_restrictions_for_models(model_ids, today=today).items():
        found = sorted(rows, key=lambda r: (r.kind, r.created_at, r.pk))
        in_force = [r for r in found if not r.expired]
        expired = [r for r in found if r.expired]
        out[pk] = {
            "met": bool(in_force),
            "in_force": [_row(r) for r in in_force],
            "expired": [_row(r) for r in expired],
            "detail": (f"{len(in_force)} use restriction(s) in force" if in_force else
                       "No use restriction in force: record the model's allowed and prohibited "
                       "uses, populations and geographies."),
        }
    return out


def _row(r: UseRestriction) -> dict[str, Any]:
    return {"id": r.pk, "kind": r.kind, "text": r.text,
            "expires_on": r.expires_on.isoformat() if r.expires_on else None,
            "expired": r.expired}


def use_restrictions_for_models(model_ids: list[int], *, today: dt.date | None = None
                                ) -> dict[int, list[UseRestriction]]:
    """{model id: its restrictions not withdrawn, each with `expired`} for many models in one
    query (the inventory and the compliance matrix over many versions)."""
    today = today or timezone.localdate()
    out: dict[int, list[UseRestriction]] = {mid: [] for mid in model_ids}
    for r in UseRestriction.objects.filter(model_id__in=model_ids, withdrawn_at__isnull=True):
        r.expired = r.is_expired(today)
        r.withdrawn = False
        out[r.model_id].append(r)
    return out
