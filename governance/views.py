"""Portal pages of governance: the audit log (filters, chain verification, export links)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from common.portal import paginate, portal_view
from governance import audit
from governance.models import AuditEvent


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
        self.fields["action"].choices = [("", "Any action"), *[(a, a) for a in actions]]

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
            qs = qs.filter(timestamp__gte=timezone.make_aware(dt.datetime.combine(data["since"], dt.time.min)))
        if data.get("until"):
            qs = qs.filter(timestamp__lte=timezone.make_aware(dt.datetime.combine(data["until"], dt.time.max)))
        return qs


@portal_view
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    qs = AuditEvent.objects.order_by("-seq")
    if form.is_bound and form.is_valid():
        qs = form.filter(qs)
    elif form.is_bound:
        qs = qs.none()
    return render(request, "governance/audit_log.html", {
        "form": form, "page": paginate(request, qs), "query": request.GET.urlencode(),
    })


@portal_view
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Walk the whole hash chain and say whether it is intact (an htmx fragment or a page)."""
    result = audit.verify_chain()
    template = "governance/_chain_status.html" if request.htmx else "governance/chain_status.html"
    return render(request, template, {"result": result, "checked_at": timezone.now()})
