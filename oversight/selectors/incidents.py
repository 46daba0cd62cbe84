"""Incidents: the ones a user may see, the open serious ones (which block promotion), the
overdue ones (past their reporting deadline), and the register state the compliance matrix reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from common.errors import NotFound
from governance import permissions as perms
from oversight.choices import OPEN_INCIDENT_STATUSES
from oversight.models import Incident, IncidentClock

_RELATED = ("model", "version__model", "seriousness", "reported_by")


def incident_list_for_user(user) -> QuerySet[Incident]:
    qs = Incident.objects.select_related(*_RELATED).order_by("-became_known_at", "-id")
    if not perms.can_read_everything(user):
        qs = qs.filter(model__team_id__in=user.team_ids)
    return qs


def incident_get_for_user(user, pk: int | str) -> Incident:
    found = incident_list_for_user(user).filter(pk=pk).first() if str(pk).isdigit() else None
    if found is None:
        raise NotFound(f"No incident {pk} that you can see.")
    return found


def incidents_for_model(model) -> QuerySet[Incident]:
    return Incident.objects.filter(model=model).select_related(*_RELATED).order_by(
        "-became_known_at", "-id")


def open_serious(model) -> QuerySet[Incident]:
    """Open serious incidents of the model (any version): they block promotion of its versions."""
    return Incident.objects.filter(
        model=model, serious=True, status__in=OPEN_INCIDENT_STATUSES
    ).select_related("seriousness").order_by("became_known_at", "id")


def overdue_incidents(*, now: dt.datetime | None = None, user=None) -> QuerySet[Incident]:
    """Serious incidents past their reporting deadline (strictly after it) and not yet reported
    to the authority, oldest deadline first; only those `user` may see when given."""
    now = now or timezone.now()
    qs = incident_list_for_user(user) if user is not None else Incident.objects.select_related(*_RELATED)
    return qs.filter(
        serious=True, authority_reported_at__isnull=True, deadline_at__lt=now,
        status__in=OPEN_INCIDENT_STATUSES,
    ).order_by("deadline_at", "id")


def incident_clocks() -> QuerySet[IncidentClock]:
    return IncidentClock.objects.order_by("position", "key")


def incident_register_state(model, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """What the compliance matrix reads (register:incidents): how many incidents the model has,
    how many serious ones are open, and how many are overdue for reporting."""
    return incident_register_states([model.pk], now=now)[model.pk]


def incident_register_states(model_ids: list[int], *, now: dt.datetime | None = None
                             ) -> dict[int, dict[str, Any]]:
    """`incident_register_state` for several models, in one query for the lot."""
    now = now or timezone.now()
    out: dict[int, dict[str, Any]] = {
        pk: {"total": 0, "open_serious": [], "overdue": []} for pk in model_ids}
    rows = Incident.objects.filter(model_id__in=model_ids).order_by("pk").values(
        "pk", "model_id", "serious", "status", "deadline_at", "authority_reported_at")
    for r in rows:
        state = out[r["model_id"]]
        state["total"] += 1
        if r["serious"] and r["status"] in OPEN_INCIDENT_STATUSES:
            state["open_serious"].append(r["pk"])
            if r["authority_reported_at"] is None and r["deadline_at"] < now:
                state["overdue"].append(r["pk"])
    return out
