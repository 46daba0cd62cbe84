"""The regulator-ready report of an incident (EU AI Act Art. 73): JSON, and the same as a page
or a PDF (WeasyPrint, offline, as the documentation pack)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from governance.models import AuditEvent
from oversight.export import render_pdf
from oversight.models import Incident


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def incident_record(incident: Incident, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything an authority asks about a serious incident, with its history from the audit
    log (who moved it when)."""
    now = now or timezone.now()
    model, version = incident.model, incident.version
    history = AuditEvent.objects.filter(
        object_type="oversight.incident", object_id=str(incident.pk)
    ).order_by("seq").values("seq", "timestamp", "actor_name", "action", "payload", "hash")
    return {
        "schema": "gatehouse.incident-report/1",
        "incident": {
            "id": incident.pk, "title": incident.title, "description": incident.description,
            "status": incident.status, "occurred_at": _iso(incident.occurred_at),
            "became_known_at": _iso(incident.became_known_at),
            "affected_persons": incident.affected_persons,
            "affected_description": incident.affected_description,
            "serious": incident.serious,
            "seriousness": None if not incident.seriousness_id else {
                "key": incident.seriousness.key, "label": incident.seriousness.label,
                "legal_basis": incident.seriousness.legal_basis,
            },
            "reporting_deadline": _iso(incident.deadline_at), "clock_days": incident.clock_days,
            "overdue": incident.is_overdue(now),
            "reported_to_authority_at": _iso(incident.authority_reported_at),
            "authority_reference": incident.authority_reference,
            "resolution": incident.resolution, "closed_at": _iso(incident.closed_at),
            "reported_by": getattr(incident.reported_by, "username", None),
        },
        "provider": {"model": model.name, "title": model.title, "team": model.team.name,
                     "owner": getattr(model.owner, "username", None),
                     "intended_use": model.intended_use,
                     "eu_ai_act_class": model.eu_ai_act_class, "risk_tier": model.risk_tier},
        "version": None if version is None else {
            "version": version.version, "ref": version.ref, "stage": version.stage,
            "artifact_sha256": version.artifact_sha256,
        },
        "history": [{"seq": e["seq"], "at": _iso(e["timestamp"]), "actor": e["actor_name"],
                     "action": e["action"], "after": (e["payload"] or {}).get("after"),
                     "hash": e["hash"]} for e in history],
        "generated_at": _iso(now),
    }


def response(incident: Incident, fmt: str, *, generated_by: str = "") -> HttpResponse:
    record = incident_record(incident)
    stem = f"incident-{incident.pk}-{incident.model.name}"
    if fmt == "json":
        out = HttpResponse(json.dumps(record, indent=2, default=str), content_type="application/json")
        out["Content-Disposition"] = f'attachment; filename="{stem}.json"'
        return out
    html = render_to_string("oversight/export/incident.html",
                            {"r": record, "generated_by": generated_by})
    if fmt == "html":
        return HttpResponse(html, content_type="text/html; charset=utf-8")
    out = HttpResponse(render_pdf(html), content_type="application/pdf")
    out["Content-Disposition"] = f'attachment; filename="{stem}.pdf"'
    return out
