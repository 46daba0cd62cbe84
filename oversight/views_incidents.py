"""Portal pages of post-market monitoring and incidents (EU AI Act Art. 72, 73): a model's
monitoring plan (and the crossings of its thresholds), the incident register, reporting an
incident, one incident with its status moves and its regulator-ready export, and the block on
the model page (added through `registry.views.MODEL_SECTIONS`)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from common.errors import DomainError, Forbidden, NotFound
from common.portal import form_errors_from, paginate, portal_view
from governance import permissions as perms
from governance.models import AuditEvent, User
from oversight import selectors, services
from oversight.choices import (
    INCIDENT_TRANSITIONS,
    OPEN_INCIDENT_STATUSES,
    IncidentStatus,
    MonitoredMetric,
    Severity,
    ThresholdDirection,
)
from oversight.models import Incident
from registry import selectors as registry_selectors
from registry.views import MODEL_SECTIONS, Section

STATUS_LABELS = dict(IncidentStatus.choices)
_DT = {"type": "datetime-local", "step": "1"}


# --- monitoring plan ------------------------------------------------------------------------


class MonitoringPlanForm(forms.Form):
    """The plan: responsible, cadence, notes, and one row per metric that may be watched."""

    responsible = forms.ChoiceField(label="Responsible person")
    cadence_days = forms.IntegerField(label="Review cadence (days)", min_value=1, max_value=366,
                                      initial=30)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                            label="What is watched and why; escalation")

    def __init__(self, *args, users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["responsible"].choices = [("", "Choose…")] + [(u.username, u.username) for u in users]
        self.metric_rows = []
        for i, (metric, label) in enumerate(MonitoredMetric.choices):
            self.fields[f"watch_{i}"] = forms.BooleanField(required=False, label=f"Watch: {label}")
            self.fields[f"direction_{i}"] = forms.ChoiceField(
                choices=ThresholdDirection.choices, initial=ThresholdDirection.ABOVE, label="Alert")
            self.fields[f"threshold_{i}"] = forms.FloatField(required=False, label="Threshold")
            self.fields[f"severity_{i}"] = forms.ChoiceField(
                choices=Severity.choices, initial=Severity.HIGH, label="Finding severity")
            self.metric_rows.append((metric, label, i))

    def rows(self):
        return [{"metric": m, "label": label, "watch": self[f"watch_{i}"], "direction": self[f"direction_{i}"],
                 "threshold": self[f"threshold_{i}"], "severity": self[f"severity_{i}"]}
                for m, label, i in self.metric_rows]

    def thresholds(self) -> list[dict]:
        out = []
        for metric, _label, i in self.metric_rows:
            if self.cleaned_data.get(f"watch_{i}"):
                out.append({"metric": metric, "direction": self.cleaned_data[f"direction_{i}"],
                            "threshold": self.cleaned_data.get(f"threshold_{i}"),
                            "severity": self.cleaned_data[f"severity_{i}"]})
        return out


def _plan_initial(plan) -> dict:
    if plan is None:
        return {}
    initial = {"responsible": plan.responsible.username, "cadence_days": plan.cadence_days,
               "notes": plan.notes}
    by_metric = {t.metric: t for t in plan.live_thresholds}
    for i, (metric, _label) in enumerate(MonitoredMetric.choices):
        t = by_metric.get(metric)
        if t is not None:
            initial.update({f"watch_{i}": True, f"direction_{i}": t.direction,
                            f"threshold_{i}": t.threshold, f"severity_{i}": t.severity})
    return initial


def _users(model) -> list[User]:
    """The people who may be responsible: those who can see the model (one query)."""
    return list(selectors.responsible_candidates(model))


@portal_view
def monitoring_plan(request: HttpRequest, name: str) -> HttpResponse:
    """The model's post-market monitoring plan, its form (for those who may change it) and the
    crossings of its thresholds, each with the finding it opened."""
    model = registry_selectors.model_get_for_user(request.user, name)
    plan = selectors.plan_for(model)
    refusal = perms.explain_cannot_manage_monitoring_plan(request.user, model)
    status = 200
    form = None
    if request.method == "POST":
        if refusal:
            raise Forbidden(refusal)
        form = MonitoringPlanForm(request.POST, users=_users(model))
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.monitoring_plan_save(
                    actor=request.user, model=model,
                    responsible=User.objects.filter(username=data["responsible"]).first(),
                    cadence_days=data["cadence_days"], notes=data["notes"],
                    thresholds=form.thresholds(),
                )
            except Forbidden as exc:  # a loosening the owning team may not make: keep the form
                form.add_error(None, exc.detail)
                status = 403
            except DomainError as exc:
                if isinstance(exc, NotFound):
                    raise
                form_errors_from(form, exc)
            else:
                messages.success(request, "Monitoring plan saved; the latest production results "
                                          "are judged against it.")
                return redirect("oversight:monitoring-plan", name=model.name)
        status = 403 if status == 403 else 400
    elif refusal is None:
        form = MonitoringPlanForm(initial=_plan_initial(plan), users=_users(model))
    due = plan.results_due_by(plan.live_thresholds) if plan else None
    return render(request, "oversight/monitoring_plan.html", {
        "model": model, "plan": plan, "form": form, "refusal": refusal,
        "results_due_by": due, "results_late": bool(due and timezone.now() > due),
        "crossings": list(selectors.crossings_for(model)[:100]),
    }, status=status)


# --- incidents ------------------------------------------------------------------------------


class IncidentReportForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), label="What happened")
    version = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                     label="Version (empty: the model as a whole)")
    occurred_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs=_DT), label="Occurred at (UTC)")
    became_known_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs=_DT),
                                          label="Became known at (UTC)")
    affected_persons = forms.IntegerField(min_value=0, max_value=services.MAX_AFFECTED_PERSONS,
                                          initial=0, label="Persons affected")
    affected_description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                           label="Who was affected, and how")
    serious = forms.BooleanField(required=False, label="Serious incident (EU AI Act Art. 3(49))")
    seriousness = forms.ChoiceField(required=False, label="Kind of serious incident")

    def __init__(self, *args, versions=(), clocks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [("", "All versions")] + [
            (v.version, f"v{v.version} ({v.stage})") for v in versions]
        self.fields["seriousness"].choices = [("", "Not serious")] + [
            (c.key, f"{c.label}: report within {c.days} days ({c.legal_basis})") for c in clocks]


class IncidentTransitionForm(forms.Form):
    to_status = forms.ChoiceField(label="New status")
    authority_reference = forms.CharField(required=False, max_length=200,
                                          label="Authority's reference (when reporting to it)")
    resolution = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                 label="Resolution (when closing)")
    note = forms.CharField(required=False, max_length=500, label="Note (optional)")

    def __init__(self, *args, statuses=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_status"].choices = [("", "Choose a status…")] + [
            (s, STATUS_LABELS.get(s, s)) for s in statuses]


class IncidentReclassifyForm(forms.Form):
    """The second line's judgement of seriousness; the kind's clock runs from became_known_at."""

    serious = forms.BooleanField(required=False, label="Serious incident (EU AI Act Art. 3(49))")
    seriousness = forms.ChoiceField(required=False, label="Kind of serious incident")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000,
                             label="Why reclassify")

    def __init__(self, *args, clocks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["seriousness"].choices = [("", "Not serious")] + [
            (c.key, f"{c.label}: report within {c.days} days of becoming known") for c in clocks]


@portal_view
def incident_list(request: HttpRequest) -> HttpResponse:
    """The incident register: ?state=open|overdue|closed, ?serious=1, ?model=name."""
    now = timezone.now()
    qs = selectors.incident_list_for_user(request.user)
    state = request.GET.get("state", "")
    if state == "open":
        qs = qs.filter(status__in=OPEN_INCIDENT_STATUSES)
    elif state == "overdue":
        qs = selectors.overdue_incidents(now=now, user=request.user)
    elif state == "closed":
        qs = qs.filter(status=IncidentStatus.CLOSED)
    serious = request.GET.get("serious") == "1"
    if serious:
        qs = qs.filter(serious=True)
    model_name = request.GET.get("model", "")
    if model_name:
        qs = qs.filter(model__name=model_name)
    return render(request, "oversight/incident_list.html", {
        "page": paginate(request, qs), "state": state, "serious": serious, "model_name": model_name,
        "now": now,
    })


@portal_view
def incident_report(request: HttpRequest, name: str) -> HttpResponse:
    model = registry_selectors.model_get_for_user(request.user, name)
    refusal = perms.explain_cannot_handle_incident(request.user, model)
    if refusal:
        raise Forbidden(refusal)
    versions = list(registry_selectors.version_rows(model))
    clocks = list(selectors.incident_clocks())
    if request.method == "POST":
        form = IncidentReportForm(request.POST, versions=versions, clocks=clocks)
        if form.is_valid():
            d = form.cleaned_data
            try:
                incident = services.incident_report(
                    actor=request.user, model=model, title=d["title"], description=d["description"],
                    occurred_at=d["occurred_at"], became_known_at=d["became_known_at"],
                    affected_persons=d["affected_persons"],
                    affected_description=d["affected_description"], serious=d["serious"],
                    seriousness=d["seriousness"] or None,
                    version=next((v for v in versions if v.version == d["version"]), None),
                )
            except DomainError as exc:
                if isinstance(exc, (Forbidden, NotFound)):
                    raise
                form_errors_from(form, exc)
            else:
                messages.success(request, f"Incident #{incident.pk} reported."
                                 + (f" Report it to the authority by {incident.deadline_at:%Y-%m-%d %H:%M} UTC."
                                    if incident.serious else ""))
                return redirect("oversight:incident-detail", pk=incident.pk)
        status = 400
    else:
        initial = {"version": request.GET.get("version") or ""}
        form = IncidentReportForm(initial=initial, versions=versions, clocks=clocks)
        status = 200
    return render(request, "oversight/incident_report.html",
                  {"model": model, "form": form, "clocks": clocks}, status=status)


def _moves(incident: Incident) -> list[str]:
    return [s for s in IncidentStatus.values if s in INCIDENT_TRANSITIONS[incident.status]]


def _incident_context(request: HttpRequest, incident: Incident, *, form=None,
                      reclassify_form=None) -> dict:
    user = request.user
    refusal = perms.explain_cannot_handle_incident(user, incident.model)
    moves: list[str] = []
    held: list[str] = []  # the moves of a serious incident left to the second line
    for move in _moves(incident) if refusal is None else ():
        if perms.explain_cannot_move_incident(user, incident.model, serious=incident.serious,
                                              to_status=move):
            held.append(move)
        else:
            moves.append(move)
    if refusal is None and moves and form is None:
        form = IncidentTransitionForm(statuses=moves)
    can_reclassify = (perms.explain_cannot_reclassify_incident(user) is None
                      and incident.status != IncidentStatus.CLOSED)
    if can_reclassify and reclassify_form is None:
        reclassify_form = IncidentReclassifyForm(
            clocks=selectors.incident_clocks(),
            initial={"serious": incident.serious,
                     "seriousness": incident.seriousness.key if incident.seriousness_id else ""})
    return {
        "incident": incident, "now": timezone.now(), "overdue": incident.is_overdue(timezone.now()),
        "form": form if refusal is None and moves else None, "refusal": refusal,
        "held_moves": [STATUS_LABELS[m].lower() for m in held],
        "reclassify_form": reclassify_form if can_reclassify else None,
        "trail": AuditEvent.objects.filter(
            object_type="oversight.incident", object_id=str(incident.pk)).order_by("-seq")[:50],
    }


@portal_view
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = selectors.incident_get_for_user(request.user, pk)
    return render(request, "oversight/incident_detail.html", _incident_context(request, incident))


@require_POST
@portal_view
def incident_transition(request: HttpRequest, pk: int) -> HttpResponse:
    incident = selectors.incident_get_for_user(request.user, pk)
    refusal = perms.explain_cannot_handle_incident(request.user, incident.model)
    if refusal:
        raise Forbidden(refusal)
    form = IncidentTransitionForm(request.POST, statuses=IncidentStatus.values)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.incident_transition(
                actor=request.user, incident=incident, to_status=d["to_status"], note=d["note"],
                authority_reference=d["authority_reference"], resolution=d["resolution"],
            )
        except DomainError as exc:
            if isinstance(exc, (Forbidden, NotFound)):
                raise
            if exc.errors and "status" in exc.errors:
                exc.errors["to_status"] = exc.errors.pop("status")
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Incident #{incident.pk} is now "
                                      f"{STATUS_LABELS[d['to_status']].lower()}.")
            return redirect("oversight:incident-detail", pk=incident.pk)
    incident.refresh_from_db()
    return render(request, "oversight/incident_detail.html",
                  _incident_context(request, incident, form=form), status=400)


@require_POST
@portal_view
def incident_reclassify(request: HttpRequest, pk: int) -> HttpResponse:
    incident = selectors.incident_get_for_user(request.user, pk)
    if refusal := perms.explain_cannot_reclassify_incident(request.user):
        raise Forbidden(refusal)
    form = IncidentReclassifyForm(request.POST, clocks=selectors.incident_clocks())
    if form.is_valid():
        d = form.cleaned_data
        try:
            incident = services.incident_reclassify(
                actor=request.user, incident=incident, serious=d["serious"],
                seriousness=d["seriousness"] or None, reason=d["reason"],
            )
        except DomainError as exc:
            if isinstance(exc, (Forbidden, NotFound)):
                raise
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Incident #{incident.pk} reclassified: " + (
                f"serious, report to the authority by {incident.deadline_at:%Y-%m-%d %H:%M} UTC."
                if incident.serious else "not serious."))
            return redirect("oversight:incident-detail", pk=incident.pk)
    incident.refresh_from_db()
    return render(request, "oversight/incident_detail.html",
                  _incident_context(request, incident, reclassify_form=form), status=400)


# --- the block on the model page ------------------------------------------------------------


def monitoring_model_section(request: HttpRequest, model) -> dict:
    """Post-market monitoring and incidents on the model page: the plan in one line, open
    crossings, and the incidents not closed (serious ones block promotion)."""
    now = timezone.now()
    incidents = list(selectors.incidents_for_model(model).filter(status__in=OPEN_INCIDENT_STATUSES)[:20])
    plan = selectors.plan_for(model)
    due = plan.results_due_by(plan.live_thresholds) if plan else None
    return {
        "model": model, "plan": plan, "incidents": incidents, "now": now,
        "results_late": bool(due and now > due), "results_due_by": due,
        "overdue_ids": {i.pk for i in incidents if i.is_overdue(now)},
        "blocking": [i for i in incidents if i.serious],
        "open_crossings": list(selectors.crossings_for(model).filter(ended_at__isnull=True)[:20]),
        "can_report": perms.explain_cannot_handle_incident(request.user, model) is None,
    }


MODEL_SECTIONS.append(Section(order=15, template="oversight/_monitoring.html",
                              build=monitoring_model_section))
