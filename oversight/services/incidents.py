"""Incidents (EU AI Act Art. 73): report, investigate, report to the authority, close.

A serious incident's reporting deadline is `became_known_at` + the days of its kind's clock
(`IncidentClock`, data). While a serious incident is open, its model's versions cannot be
promoted (approvals' gate `no_open_serious_incident`), so every change of one announces new
evidence about the model.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from common import workflow
from common.errors import Conflict, Forbidden, ValidationFailed
from governance import audit, notify
from governance import permissions as perms
from governance.events import evidence_changed
from oversight.choices import INCIDENT_TRANSITIONS, IncidentStatus
from oversight.models import Incident, IncidentClock

#: The largest count the database column holds (a PostgreSQL integer).
MAX_AFFECTED_PERSONS = 2_147_483_647


class InvalidIncidentTransition(workflow.IllegalTransition):
    code = "invalid_transition"


def _fail(errors: dict[str, list[str]]) -> None:
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first][0]}", errors=errors)


def _link(incident: Incident) -> str:
    return f"/incidents/{incident.pk}/"


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def incident_snapshot(incident: Incident) -> dict[str, Any]:
    return {
        "title": incident.title, "status": incident.status, "serious": incident.serious,
        "seriousness": incident.seriousness.key if incident.seriousness_id else None,
        "occurred_at": incident.occurred_at, "became_known_at": incident.became_known_at,
        "deadline_at": incident.deadline_at, "clock_days": incident.clock_days,
        "affected_persons": incident.affected_persons,
        "version": incident.version.ref if incident.version_id else None,
    }


@transaction.atomic(durable=True)
def incident_report(
    *, actor, model, title: str, description: str, occurred_at: dt.datetime | None,
    became_known_at: dt.datetime | None, affected_persons: int = 0,
    affected_description: str = "", serious: bool = False, seriousness: str | None = None,
    version=None, now: dt.datetime | None = None,
) -> Incident:
    """Record an incident. Neither date may be in the future, and it cannot have become known
    before it occurred. A serious one names its kind (an `IncidentClock` key); its deadline is
    fixed now from that clock. The model's owner is notified."""
    if refusal := perms.explain_cannot_handle_incident(actor, model):
        raise Forbidden(refusal)
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if not (title or "").strip():
        errors["title"] = ["An incident needs a title."]
    if not (description or "").strip():
        errors["description"] = ["Say what happened."]
    for name, value in (("occurred_at", occurred_at), ("became_known_at", became_known_at)):
        if value is None:
            errors[name] = ["Required: a date and time."]
        elif value > now:
            errors[name] = [f"Must not be in the future: {_when(value)} is after now ({_when(now)})."]
    if occurred_at and became_known_at and became_known_at < occurred_at:
        errors.setdefault("became_known_at", []).append(
            "Cannot be before the incident occurred (occurred_at): it became known "
            f"{_when(became_known_at)}, it occurred {_when(occurred_at)}."
        )
    if (isinstance(affected_persons, bool) or not isinstance(affected_persons, int)
            or not 0 <= affected_persons <= MAX_AFFECTED_PERSONS):
        errors["affected_persons"] = [
            f"A whole number of persons, from 0 to {MAX_AFFECTED_PERSONS}."]
    if version is not None and version.model_id != model.pk:
        errors["version"] = [f"Version {version.ref} is not a version of {model.name}."]
    clock = None
    if serious:
        clock = IncidentClock.objects.filter(key=seriousness or "").first()
        if clock is None:
            keys = ", ".join(IncidentClock.objects.values_list("key", flat=True))
            errors["seriousness"] = [f"A serious incident names its kind: one of {keys}."]
    elif seriousness:
        errors["seriousness"] = ["Only a serious incident has a kind of seriousness; set serious."]
    _fail(errors)
    incident = Incident.objects.create(
        model=model, version=version, title=title.strip()[:200], description=description.strip(),
        occurred_at=occurred_at, became_known_at=became_known_at,
        affected_persons=affected_persons, affected_description=affected_description or "",
        serious=bool(serious), seriousness=clock, clock_days=clock.days if clock else None,
        deadline_at=became_known_at + dt.timedelta(days=clock.days) if clock else None,
        reported_by=actor,
    )
    audit.record(
        action="oversight.incident.reported", actor=actor, target=incident, model_name=model.name,
        payload={"after": incident_snapshot(incident)},
    )
    if incident.serious:
        evidence_changed(model.name)  # an open serious incident blocks promotion
        body = (f"{actor.username} reported a serious incident ({clock.label}) on {model.name}: "
                f"{incident.title}. It must be reported to the market surveillance authority by "
                f"{_when(incident.deadline_at)} ({clock.days} days after it became known, "
                f"{clock.legal_basis}). Promotions of {model.name} are blocked until it closes.")
    else:
        body = f"{actor.username} reported an incident on {model.name}: {incident.title}."
    notify([model.owner_id], f"{'Serious incident' if incident.serious else 'Incident'} on "
           f"{model.name}: {incident.title}", body, _link(incident))
    return incident


@transaction.atomic(durable=True)
def incident_transition(
    *, actor, incident: Incident, to_status: str, note: str = "", authority_reference: str = "",
    resolution: str = "", now: dt.datetime | None = None,
) -> Incident:
    """The one function that moves an incident: investigating, reported to the authority (with
    the authority's reference), closed (with a resolution; a serious incident only after it was
    reported to the authority), or re-opened to investigating."""
    now = now or timezone.now()
    incident = (Incident.objects.select_for_update(of=("self",))
                .select_related("model", "seriousness", "version").get(pk=incident.pk))
    if to_status not in IncidentStatus.values:
        raise ValidationFailed(f"Unknown status {to_status!r}.",
                               errors={"status": [f"Choose one of: {', '.join(IncidentStatus.values)}."]})
    if refusal := perms.explain_cannot_move_incident(actor, incident.model, serious=incident.serious,
                                                     to_status=to_status):
        raise Forbidden(refusal)
    changes: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if to_status == IncidentStatus.REPORTED_TO_AUTHORITY:
        if not (authority_reference or "").strip():
            errors["authority_reference"] = [
                "Give the authority's reference (case number) of the report."]
        changes["authority_reference"] = (authority_reference or "").strip()[:200]
        changes["authority_reported_at"] = incident.authority_reported_at or now
    elif to_status == IncidentStatus.CLOSED:
        if not (resolution or "").strip():
            errors["resolution"] = ["Closing an incident needs a resolution: what was done."]
        if incident.serious and incident.authority_reported_at is None:
            errors["status"] = ["A serious incident closes only after it was reported to the "
                                "market surveillance authority (EU AI Act Art. 73)."]
        changes["resolution"] = (resolution or "").strip()
        changes["closed_at"] = now
    elif to_status == IncidentStatus.INVESTIGATING:
        changes["closed_at"] = None
    if to_status in INCIDENT_TRANSITIONS.get(incident.status, ()):
        _fail(errors)  # an illegal move is refused as such (409) by the transition below

    def record(before: str) -> None:
        if incident.serious:
            evidence_changed(incident.model.name)  # open/closed changes the promotion gate
        audit.record(
            action="oversight.incident.transitioned", actor=actor, target=incident,
            model_name=incident.model.name,
            payload={"before": {"status": before}, "after": {"status": to_status},
                     "note": note, **{k: v for k, v in changes.items() if v is not None}},
        )

    before = workflow.transition(
        incident, to_status, table=INCIDENT_TRANSITIONS, record=record, changes=changes,
        locked=True, name=f"Incident #{incident.pk}", error=InvalidIncidentTransition,
    )
    notify([incident.model.owner_id, incident.reported_by_id],
           f"Incident {to_status.replace('_', ' ')}: {incident.title}",
           f"{actor.username} moved incident #{incident.pk} from {before} to {to_status}."
           + (f"\n\n{note}" if note else ""), _link(incident))
    return incident


def _classification(incident: Incident) -> dict[str, Any]:
    return {"serious": incident.serious,
            "seriousness": incident.seriousness.key if incident.seriousness_id else None,
            "clock_days": incident.clock_days, "deadline_at": incident.deadline_at}


@transaction.atomic(durable=True)
def incident_reclassify(
    *, actor, incident: Incident, serious: bool, seriousness: str | None, reason: str,
    now: dt.datetime | None = None,
) -> Incident:
    """The second line's judgement of seriousness: make an incident serious (naming its kind),
    change its kind, or make it not serious, saying why. The reporting clock follows the new
    kind from `became_known_at` (not from now): the deadline may already have passed. A closed
    incident is re-opened first. Serious or not decides the promotion gate, so it is announced."""
    now = now or timezone.now()
    incident = (Incident.objects.select_for_update(of=("self",))
                .select_related("model", "seriousness").get(pk=incident.pk))
    if refusal := perms.explain_cannot_reclassify_incident(actor):
        raise Forbidden(refusal)
    if incident.status == IncidentStatus.CLOSED:
        raise Conflict(f"Incident #{incident.pk} is closed: re-open it (investigating) before "
                       "reclassifying it.")
    errors: dict[str, list[str]] = {}
    if not (reason or "").strip():
        errors["reason"] = ["Say why the incident is reclassified (reason is required)."]
    clock = None
    if serious:
        clock = IncidentClock.objects.filter(key=seriousness or "").first()
        if clock is None:
            keys = ", ".join(IncidentClock.objects.values_list("key", flat=True))
            errors["seriousness"] = [f"A serious incident names its kind: one of {keys}."]
    elif seriousness:
        errors["seriousness"] = ["Only a serious incident has a kind of seriousness; set serious."]
    if not errors and bool(serious) == incident.serious and (
            clock is None or clock.pk == incident.seriousness_id):
        what = f"serious ({clock.key})" if clock else "not serious"
        errors["seriousness" if clock else "serious"] = [
            f"Incident #{incident.pk} is already classified {what}: nothing to change."]
    _fail(errors)
    was_serious, before = incident.serious, _classification(incident)
    incident.serious, incident.seriousness = bool(serious), clock
    incident.clock_days = clock.days if clock else None
    incident.deadline_at = incident.became_known_at + dt.timedelta(days=clock.days) if clock else None
    incident.save(update_fields=["serious", "seriousness", "clock_days", "deadline_at", "updated_at"])
    overdue = incident.is_overdue(now)
    payload: dict[str, Any] = {"before": before, "after": _classification(incident),
                               "reason": reason.strip(), "status": incident.status}
    if clock:
        payload["deadline_basis"] = (
            f"became_known_at {_when(incident.became_known_at)} + {clock.days} days "
            f"({clock.key}, {clock.legal_basis}), not the time of reclassification")
        payload["overdue"] = overdue
    audit.record(
        action="oversight.incident.reclassified", actor=actor, target=incident,
        model_name=incident.model.name, payload=payload,
    )
    if was_serious or incident.serious:
        evidence_changed(incident.model.name)  # serious or not decides the promotion gate
    if clock:
        body = (f"{actor.username} classified incident #{incident.pk} on {incident.model.name} "
                f"as serious ({clock.label}): report it to the market surveillance authority by "
                f"{_when(incident.deadline_at)} ({clock.days} days after it became known)"
                + (", which has already passed" if overdue else "")
                + f". Promotions of {incident.model.name} are blocked until it closes.")
    else:
        body = (f"{actor.username} classified incident #{incident.pk} on {incident.model.name} "
                "as not serious: it no longer has a reporting deadline nor blocks promotion.")
    notify([incident.model.owner_id, incident.reported_by_id],
           f"Incident reclassified: {incident.title}", f"{body}\n\nReason: {reason.strip()}",
           _link(incident))
    return incident
