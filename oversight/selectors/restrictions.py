"""Reads of use restrictions: what applies to a model now, and the register's state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from governance import permissions as perms
from governance.choices import Role
from governance.models import RoleGrant
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


def mark_imposed_by_second_line(rows: list[UseRestriction]) -> list[UseRestriction]:
    """Set `imposed_by_second_line` on each row (its recorder is a validator, compliance or an
    admin: `permissions.is_second_line_or_admin`), in one query for all of them. Rows come
    with `created_by` (as `use_restrictions_for` reads them)."""
    ids = {r.created_by_id for r in rows}
    second = set(RoleGrant.objects.filter(
        user_id__in=ids, role__in=perms.SECOND_LINE | {Role.ADMIN}).values_list("user_id", flat=True)
    ) if ids else set()
    for r in rows:
        r.imposed_by_second_line = r.created_by_id in second or r.created_by.is_superuser
    return rows


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
