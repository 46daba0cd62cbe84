"""Policy exceptions in the portal: the register (filters active / expiring / expired), one
exception with its decisions, the request form and block on a version page."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from approvals import exceptions, gates, selectors
from approvals.choices import (
    EXCEPTION_DECISIONS,
    EXCEPTION_NOTICE_DAYS,
    DecisionKind,
    ExceptionStatus,
)
from common.errors import ValidationFailed
from common.portal import form_errors_from, paginate, portal_view
from governance import permissions as perms
from governance.choices import Role
from governance.models import AuditEvent
from registry import selectors as registry_selectors
from registry import views as registry_views

ROLE_LABELS = dict(Role.choices)
FILTER_LABELS = {"active": "Active (waiving now)", "expiring": f"Expiring within {EXCEPTION_NOTICE_DAYS} days",
                 "expired": "Expired", "requested": "Awaiting decision", "all": "All"}


class ExceptionRequestForm(forms.Form):
    gate = forms.ChoiceField(label="Gate to waive")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                             help_text="Why the gate cannot be met for this version now.")
    compensating_controls = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
        help_text="What stands in for the gate while it is waived.")
    expires_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="The waiver ends at the end of this day.")

    def __init__(self, *args, max_days: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gate"].choices = [(k, gates.label(k)) for k in exceptions.waivable_gates()]
        if max_days:
            self.fields["expires_on"].help_text += f" At most {max_days} days ahead under this tier's policy."


class ExceptionDecisionForm(forms.Form):
    role = forms.ChoiceField(label="Deciding as")
    decision = forms.ChoiceField(choices=EXCEPTION_DECISIONS)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="Required when rejecting.")

    def __init__(self, *args, roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r, ROLE_LABELS.get(r, r)) for r in roles]


# --- the register ----------------------------------------------------------------------------


@portal_view
def exception_register(request: HttpRequest) -> HttpResponse:
    """Every exception on models the user can see, filtered; counts per filter in one query."""
    now = timezone.now()
    state = request.GET.get("state") or "active"
    if state not in selectors.EXCEPTION_FILTERS:
        state = "active"
    base = selectors.exception_list_for_user(request.user)
    model_name = request.GET.get("model", "").strip()
    if model_name:
        base = base.filter(model__name=model_name)
    approved = Q(status=ExceptionStatus.APPROVED)
    counts = base.aggregate(
        active=Count("pk", filter=approved & Q(expires_at__gt=now)),
        expiring=Count("pk", filter=approved & Q(
            expires_at__gt=now, expires_at__lte=now + dt.timedelta(days=EXCEPTION_NOTICE_DAYS))),
        expired=Count("pk", filter=Q(status=ExceptionStatus.EXPIRED) | (approved & Q(expires_at__lte=now))),
        requested=Count("pk", filter=Q(status=ExceptionStatus.REQUESTED, expires_at__gt=now)),
        all=Count("pk"),
    )
    page = paginate(request, selectors.exceptions_filtered(base, state, now=now))
    for exc in page:
        exc.display_state = selectors.exception_display_state(exc, now=now)
        exc.gate_label = gates.label(exc.gate)
        exc.approvals = [d for d in exc.decisions.all() if d.decision == DecisionKind.APPROVE]
    return render(request, "approvals/exception_register.html", {
        "page": page, "state": state, "model_name": model_name, "now": now,
        "filters": [{"key": k, "label": FILTER_LABELS[k], "count": counts[k]}
                    for k in selectors.EXCEPTION_FILTERS],
    })


# --- one exception ----------------------------------------------------------------------------


def _decide_as(user, exc) -> list[str]:
    if exc.status != ExceptionStatus.REQUESTED:
        return []
    approvals = [d for d in exc.decisions.all() if d.decision == DecisionKind.APPROVE]
    developer_ids = frozenset(u.pk for u in exc.model.developers.all())
    return [role for role in exc.approver_roles if perms.explain_cannot_decide_exception(
        user, role=role, approver_roles=exc.approver_roles,
        filled_roles={d.role for d in approvals}, requester_id=exc.requested_by_id,
        version_creator_id=exc.version.created_by_id, developer_ids=developer_ids, approver_ids={d.approver_id for d in approvals}) is None]


def _detail_context(request: HttpRequest, exc, form=None) -> dict:
    now = timezone.now()
    roles = _decide_as(request.user, exc)
    if form is None and roles:
        form = ExceptionDecisionForm(roles=roles)
    approvals = {d.role for d in exc.decisions.all() if d.decision == DecisionKind.APPROVE}
    refusal = None
    if exc.status == ExceptionStatus.REQUESTED and request.user.pk == exc.requested_by_id:
        refusal = "Segregation of duties: nobody decides on a policy exception they requested."
    elif exc.status == ExceptionStatus.REQUESTED and request.user.pk == exc.version.created_by_id:
        refusal = ("Segregation of duties: nobody decides on a policy exception for a model "
                   "version they registered.")
    return {
        "exception": exc, "gate_label": gates.label(exc.gate), "form": form, "refusal": refusal,
        "state": selectors.exception_display_state(exc, now=now),
        "roles": [{"label": ROLE_LABELS.get(r, r), "approved": r in approvals} for r in exc.approver_roles],
        "can_withdraw": exc.status in (ExceptionStatus.REQUESTED, ExceptionStatus.APPROVED)
        and request.user.pk in (exc.requested_by_id, exc.model.owner_id)
        and perms.explain_cannot_write(request.user) is None,
        "trail": AuditEvent.objects.filter(object_type="approvals.policyexception",
                                           object_id=str(exc.pk)).order_by("seq"),
    }


@portal_view
def exception_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exc = selectors.exception_get_for_user(request.user, pk)
    return render(request, "approvals/exception_detail.html", _detail_context(request, exc))


@require_POST
@portal_view
def exception_decide(request: HttpRequest, pk: int) -> HttpResponse:
    exc = selectors.exception_get_for_user(request.user, pk)
    form = ExceptionDecisionForm(request.POST, roles=exc.approver_roles)
    if form.is_valid():
        try:
            exceptions.exception_decide(actor=request.user, exception_id=exc.pk,
                                        decision=form.cleaned_data["decision"],
                                        role=form.cleaned_data["role"],
                                        comment=form.cleaned_data["comment"])
        except ValidationFailed as err:
            form_errors_from(form, err)
        else:
            messages.success(request, f"Decision recorded on exception #{exc.pk}.")
            return redirect("approvals:exception-detail", pk=exc.pk)
    exc = selectors.exception_get_for_user(request.user, pk)
    return render(request, "approvals/exception_detail.html", _detail_context(request, exc, form),
                  status=400)


@require_POST
@portal_view
def exception_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    exc = selectors.exception_get_for_user(request.user, pk)
    exceptions.exception_withdraw(actor=request.user, exception_id=exc.pk,
                                  reason=request.POST.get("reason", ""))
    messages.success(request, f"Exception #{exc.pk} withdrawn; the gate is required again.")
    return redirect("approvals:exception-detail", pk=exc.pk)


# --- on the version page ------------------------------------------------------------------------


def _max_days(version) -> int:
    from governance.policy import exception_rules

    return exception_rules(exceptions._policy_for(version).rules)[0]


@portal_view
def exception_request(request: HttpRequest, name: str, version: int) -> HttpResponse:
    model = registry_selectors.model_get_for_user(request.user, name)
    mv = registry_selectors.version_get(model, version)
    max_days = _max_days(mv)
    if request.method == "POST":
        form = ExceptionRequestForm(request.POST, max_days=max_days)
        if form.is_valid():
            data = form.cleaned_data
            try:
                exc = exceptions.exception_request(
                    actor=request.user, version=mv, gate=data["gate"], reason=data["reason"],
                    compensating_controls=data["compensating_controls"],
                    expires_at=data["expires_on"])
            except ValidationFailed as err:
                form_errors_from(form, err)
            else:
                messages.success(request, f"Exception #{exc.pk} requested; "
                                          f"{', '.join(exc.approver_roles)} decide.")
                return redirect("approvals:exception-detail", pk=exc.pk)
        status = 400
    else:
        form = ExceptionRequestForm(initial={"gate": request.GET.get("gate")}, max_days=max_days)
        status = 200
    return render(request, "approvals/exception_request.html",
                  {"model": model, "version": mv, "form": form}, status=status)


def exceptions_version_section(request: HttpRequest, version) -> dict:
    developer_ids = frozenset(u.pk for u in version.model.developers.all())
    can_request = perms.explain_cannot_request_exception(request.user, version.model,
                                                         developer_ids) is None
    rows = selectors.exceptions_for_version(version)
    for exc in rows:
        exc.gate_label = gates.label(exc.gate)
    return {"version": version, "rows": rows, "can_request": can_request}


registry_views.VERSION_SECTIONS.append(
    registry_views.Section(order=11, template="approvals/_exceptions.html",
                           build=exceptions_version_section)
)
