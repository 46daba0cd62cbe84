"""Portal page of one validation finding: the finding, its thread (the challenge and the answers
are evidence, never edited), the respond form and the status moves the user may make.

Who may respond or move a finding is asked of governance.permissions; the moves allowed from a
status come from the one transition table (FINDING_TRANSITIONS). Opening a finding starts from the
model's page (registry.views), which can look the model up.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from common.errors import DomainError, Forbidden, NotFound
from common.portal import form_errors_from, portal_view
from governance import permissions as perms
from governance.models import AuditEvent
from oversight import selectors, services
from oversight.choices import FINDING_TRANSITIONS, FindingStatus
from oversight.models import Finding

STATUS_LABELS = dict(FindingStatus.choices)


class RespondForm(forms.Form):
    body = forms.CharField(label="Your response", widget=forms.Textarea(attrs={"rows": 4}))


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(label="New status")
    justification = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when accepting the risk: why the model may run with it.",
    )
    note = forms.CharField(required=False, max_length=500, label="Note (optional)")

    def __init__(self, *args, statuses=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_status"].choices = [("", "Choose a status…")] + [
            (s, STATUS_LABELS.get(s, s)) for s in statuses
        ]


def _moves(user, finding: Finding) -> tuple[list[str], dict[str, str]]:
    """The statuses the user may move the finding to now, and the rule refusing each other move."""
    allowed, refused = [], {}
    for status in [s for s in FindingStatus.values if s in FINDING_TRANSITIONS[finding.status]]:
        why = perms.explain_cannot_move_finding(user, finding.model, finding.owner_id, status)
        if why is None:
            allowed.append(status)
        else:
            refused[status] = why
    return allowed, refused


def _context(request: HttpRequest, finding: Finding, *, respond_form=None,
             transition_form=None) -> dict:
    respond_refusal = perms.explain_cannot_respond_to_finding(request.user, finding.model)
    allowed, refused = _moves(request.user, finding)
    if respond_refusal is None and respond_form is None:
        respond_form = RespondForm()
    if allowed and transition_form is None:
        transition_form = TransitionForm(statuses=allowed)
    return {
        "finding": finding, "thread": list(selectors.finding_thread(finding)),
        "respond_form": respond_form if respond_refusal is None else None,
        "respond_refusal": respond_refusal,
        "transition_form": transition_form if allowed else None,
        "move_refusals": {STATUS_LABELS.get(s, s): why for s, why in refused.items()},
        "read_only": perms.explain_cannot_write(request.user),
        "trail": AuditEvent.objects.filter(
            object_type="governance.finding", object_id=str(finding.pk)
        ).order_by("-seq")[:50],
    }


@portal_view
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    finding = selectors.finding_get_for_user(request.user, pk)
    return render(request, "oversight/finding_detail.html", _context(request, finding))


@require_POST
@portal_view
def finding_respond(request: HttpRequest, pk: int) -> HttpResponse:
    finding = selectors.finding_get_for_user(request.user, pk)
    refusal = perms.explain_cannot_respond_to_finding(request.user, finding.model)
    if refusal:
        raise Forbidden(refusal)
    form = RespondForm(request.POST)
    if form.is_valid():
        try:
            services.finding_respond(actor=request.user, finding=finding, body=form.cleaned_data["body"])
        except DomainError as exc:
            if isinstance(exc, (Forbidden, NotFound)):
                raise
            form_errors_from(form, exc)
        else:
            messages.success(request, "Your response was added to the thread.")
            return redirect("oversight:finding-detail", pk=finding.pk)
    return render(request, "oversight/finding_detail.html",
                  _context(request, finding, respond_form=form), status=400)


@require_POST
@portal_view
def finding_transition(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the finding; the service checks the table and the rule (a refused move is a 403 page
    with the rule's sentence; accepting without a justification is shown next to the field)."""
    finding = selectors.finding_get_for_user(request.user, pk)
    refusal = perms.explain_cannot_write(request.user)
    if refusal:
        raise Forbidden(refusal)
    # Any status parses; the service refuses a move the table or the rule does not allow.
    form = TransitionForm(request.POST, statuses=FindingStatus.values)
    if form.is_valid():
        try:
            finding = services.finding_transition(
                actor=request.user, finding=finding, to_status=form.cleaned_data["to_status"],
                justification=form.cleaned_data["justification"], note=form.cleaned_data["note"],
            )
        except DomainError as exc:
            if isinstance(exc, (Forbidden, NotFound)):
                raise
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Finding #{finding.pk} is now {STATUS_LABELS[finding.status].lower()}.")
            return redirect("oversight:finding-detail", pk=finding.pk)
    finding = selectors.finding_get_for_user(request.user, pk)
    return render(request, "oversight/finding_detail.html",
                  _context(request, finding, transition_form=form), status=400)
