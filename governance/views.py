"""Portal pages of governance: the audit log (filters, chain verification, export links). The
records about models (risk, documents, findings) have their pages in `oversight`."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from common.errors import Forbidden, NotFound
from common.portal import paginate, portal_view
from governance import audit, selectors
from governance import permissions as perms
from governance.action_labels import action_label
from governance.auditlog import proofs as auditlog_proofs


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False)
    actor = forms.CharField(required=False, max_length=150, label="Actor (username)")
    model_name = forms.CharField(required=False, max_length=100, label="Model")
    object = forms.CharField(required=False, max_length=300, label="Object contains")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actions = sorted(audit.registered_actions())
        self.fields["action"].choices = [("", "Any action"), *[(a, action_label(a)) for a in sorted(actions, key=action_label)]]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date must not be before the start date.")
        return data

    def filter(self, qs):
        data = self.cleaned_data
        if data.get("action"):
            qs = qs.filter(action=data["action"])
        if data.get("actor"):
            qs = qs.filter(actor_name=data["actor"])
        if data.get("model_name"):
            qs = qs.filter(model_name=data["model_name"])
        if data.get("object"):
            qs = qs.filter(object_repr__icontains=data["object"])
        # Dates are days in the user's time zone.
        if data.get("since"):
            qs = qs.filter(timestamp__gte=_day_start(data["since"]))
        if data.get("until"):
            qs = qs.filter(timestamp__lte=_day_end(data["until"]))
        return qs


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _day_end(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.max))


def _export_query(form: AuditFilterForm) -> str:
    """The audit log's filters in the export API's terms (dates as instants in the user's zone)."""
    if not (form.is_bound and form.is_valid()):
        return ""
    data = form.cleaned_data
    params = {
        "action": data.get("action"), "actor": data.get("actor"), "model": data.get("model_name"),
        "since": _day_start(data["since"]).isoformat() if data.get("since") else None,
        "until": _day_end(data["until"]).isoformat() if data.get("until") else None,
    }
    return urlencode({k: v for k, v in params.items() if v})


@portal_view
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit record the user may read, newest first, with filters and export links."""
    form = AuditFilterForm(request.GET or None)
    qs = selectors.audit_events_for_user(request.user).order_by("-seq")
    if form.is_bound and form.is_valid():
        qs = form.filter(qs)
    elif form.is_bound:
        qs = qs.none()
    query = _export_query(form)
    checkpoint = auditlog_proofs.latest_checkpoint()
    return render(request, "governance/audit_log.html", {
        "checkpoint": checkpoint,
        "signature_valid": checkpoint is not None
        and auditlog_proofs.checkpoint_signature_valid(checkpoint),
        "form": form, "page": paginate(request, qs), "export_query": query + "&" if query else "",
        "can_verify": perms.explain_cannot_verify_audit_trail(request.user) is None,
        "object_filter_not_exported": bool(form.is_bound and form.is_valid() and form.cleaned_data.get("object")),
    })


@portal_view
def audit_event(request: HttpRequest, seq: int) -> HttpResponse:
    """One event: who did what to which object, its before/after field by field and the full
    record. Only events the user may read (others are 404)."""
    event = selectors.audit_events_for_user(request.user).filter(seq=seq).first()
    if event is None:
        raise NotFound(f"No audit event {seq} that you can see.")
    return render(request, "governance/audit_event.html", {"event": event, "events": [event]})


@portal_view
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Walk the whole hash chain and say whether it is intact (an htmx fragment or a page)."""
    refusal = perms.explain_cannot_verify_audit_trail(request.user)
    if refusal:
        raise Forbidden(refusal)
    result = audit.verify_chain_once()
    template = "governance/_chain_status.html" if request.htmx else "governance/chain_status.html"
    return render(request, template, {"result": result, "checked_at": timezone.now()})
