"""Portal pages that span every app: the dashboard, the approval inbox, promotion requests, and
the readiness panel and promotion history on the registry's pages.

approvals sits at the top of the import chain, so this is where evidence from the registry,
governance and explainability is brought together for a person to act on. Every rule (who may
decide, which gates apply) is asked of approvals' selectors/gates and governance.permissions.
"""

from __future__ import annotations

from collections import defaultdict

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from approvals import gates, selectors, services
from approvals.choices import LIVE_STATES, DecisionKind, TargetStage
from common.errors import Conflict, ValidationFailed
from common.portal import portal_view
from explainability import selectors as job_selectors
from explainability.choices import JobStatus
from governance import permissions as perms
from governance import selectors as gov_selectors
from governance.choices import BLOCKING_SEVERITIES, UNRESOLVED_FINDING_STATUSES, Role
from governance.models import AuditEvent
from registry import selectors as registry_selectors
from registry import views as registry_views
from registry.choices import Stage
from registry.models import ModelVersion

TIERS = [(1, "Tier 1"), (2, "Tier 2"), (3, "Tier 3"), (None, "Not assessed")]
ROLE_LABELS = dict(Role.choices)


# --- dashboard ------------------------------------------------------------------------------


def _tier_stage_matrix(user) -> dict:
    """Models the user can see, by risk tier and by the stages their versions are in."""
    visible = registry_selectors.model_list_for_user(user)
    by_tier = dict(
        visible.order_by().values_list("risk_tier").annotate(n=Count("pk", distinct=True))
    )
    cells: dict = defaultdict(int)
    rows = (
        ModelVersion.objects.filter(model__in=visible.values("pk"))
        .order_by().values_list("model__risk_tier", "stage")
        .annotate(n=Count("model", distinct=True))
    )
    for tier, stage, n in rows:
        cells[(tier, stage)] = n
    stages = [s for s in Stage.choices if s[0] != Stage.ARCHIVED]
    return {
        "stages": stages,
        "rows": [
            {
                "tier": tier, "label": label, "param": tier or "unassessed",
                "total": by_tier.get(tier, 0),
                "cells": [(stage, cells[(tier, stage)]) for stage, _ in stages],
            }
            for tier, label in TIERS
        ],
    }


@portal_view
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    visible = registry_selectors.model_list_for_user(user)
    high_findings = gov_selectors.finding_list_for_user(user).filter(
        status__in=UNRESOLVED_FINDING_STATUSES, severity__in=BLOCKING_SEVERITIES
    )
    return render(request, "approvals/dashboard.html", {
        "matrix": _tier_stage_matrix(user),
        "model_count": visible.count(),
        "awaiting": selectors.inbox_for_user(user).count(),
        "overdue_reviews": gov_selectors.overdue_reviews(user).count(),
        "failed_jobs": job_selectors.job_list_for_user(user).filter(status=JobStatus.FAILED).count(),
        "failed_jobs_url": reverse("explainability:job-list") + "?status=failed",
        "open_high_findings": high_findings.count(),
        "findings_url": reverse("governance:finding-list") + "?open_high=1",
        "recent_events": gov_selectors.audit_events_for_user(user).order_by("-seq")[:12],
    })


# --- inbox and requests ---------------------------------------------------------------------


@portal_view
def inbox(request: HttpRequest) -> HttpResponse:
    """Requests awaiting a role I hold, oldest first."""
    reqs = list(selectors.inbox_for_user(request.user))
    mine = list(
        selectors.promotion_list_for_user(request.user)
        .filter(requested_by=request.user, state__in=LIVE_STATES).order_by("created_at")
    )
    return render(request, "approvals/inbox.html", {"requests": reqs, "mine": mine})


class DecisionForm(forms.Form):
    role = forms.ChoiceField(label="Deciding as")
    decision = forms.ChoiceField(choices=DecisionKind.choices)
    comment = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when rejecting or requesting changes.",
    )

    def __init__(self, *args, roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r, ROLE_LABELS.get(r, r)) for r in roles]


def _request_context(request: HttpRequest, req, form: DecisionForm | None = None) -> dict:
    allowed = selectors.allowed_actions(request.user, req)
    live = None
    if req.state in LIVE_STATES:
        live = gates.evaluate(req.version, req.target_stage, policy=req.policy)
    if form is None and allowed["decide_as"]:
        form = DecisionForm(roles=allowed["decide_as"])
    decisions = sorted(req.decisions.all(), key=lambda d: d.created_at)
    filled = {d.role for d in decisions if d.decision == DecisionKind.APPROVE}
    return {
        "req": req, "allowed": allowed, "form": form, "decisions": decisions,
        "live_report": live, "snapshot": req.gate_report or {},
        "roles": [{"role": r, "label": ROLE_LABELS.get(r, r), "approved": r in filled}
                  for r in req.required_roles],
        "read_only": perms.explain_cannot_write(request.user),
        "trail": AuditEvent.objects.filter(
            object_type="approvals.promotionrequest", object_id=str(req.pk)
        ).order_by("seq"),
    }


@portal_view
def request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    req = selectors.promotion_get_for_user(request.user, request_id)
    return render(request, "approvals/request_detail.html", _request_context(request, req))


@require_POST
@portal_view
def request_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    req = selectors.promotion_get_for_user(request.user, request_id)
    allowed = selectors.allowed_actions(request.user, req)
    form = DecisionForm(request.POST, roles=allowed["decide_as"] or req.required_roles)
    if form.is_valid():
        try:
            req = services.promotion_decide(
                actor=request.user, request_id=req.pk, decision=form.cleaned_data["decision"],
                role=form.cleaned_data["role"], comment=form.cleaned_data["comment"],
            )
        except ValidationFailed as exc:
            for field, errs in (exc.errors or {"__all__": [exc.detail]}).items():
                form.add_error(field if field in form.fields else None, " ".join(map(str, errs)))
        except Conflict as exc:
            form.add_error(None, exc.detail)
        else:
            verb = dict(DecisionKind.choices)[form.cleaned_data["decision"]].lower()
            messages.success(request, f"Recorded: {verb} as {form.cleaned_data['role']}. "
                                      f"The request is now {req.state}.")
            return redirect("approvals:request-detail", request_id=req.pk)
    req = selectors.promotion_get_for_user(request.user, request_id)
    return render(request, "approvals/request_detail.html", _request_context(request, req, form), status=400)


@require_POST
@portal_view
def request_withdraw(request: HttpRequest, request_id: int) -> HttpResponse:
    req = selectors.promotion_get_for_user(request.user, request_id)
    services.promotion_withdraw(actor=request.user, request_id=req.pk, reason=request.POST.get("reason", ""))
    messages.success(request, f"Promotion request #{req.pk} withdrawn.")
    return redirect("approvals:request-detail", request_id=req.pk)


class OpenRequestForm(forms.Form):
    target_stage = forms.ChoiceField(choices=TargetStage.choices)
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                    help_text="Why this version should move.")


@require_POST
@portal_view
def request_open(request: HttpRequest, name: str, version: int) -> HttpResponse:
    model = registry_selectors.model_get_for_user(request.user, name)
    mv = registry_selectors.version_get(model, version)
    form = OpenRequestForm(request.POST)
    if form.is_valid():
        try:
            req = services.promotion_request_open(
                actor=request.user, version=mv, target_stage=form.cleaned_data["target_stage"],
                justification=form.cleaned_data["justification"],
            )
        except ValidationFailed as exc:
            for field, errs in (exc.errors or {"__all__": [exc.detail]}).items():
                form.add_error(field if field in form.fields else None, " ".join(map(str, errs)))
        except Conflict as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, f"Promotion request #{req.pk} opened: {mv.ref} → {req.target_stage}.")
            return redirect("approvals:request-detail", request_id=req.pk)
    return render(request, "approvals/request_open.html", {"form": form, "version": mv, "model": model}, status=400)


# --- sections on the registry's pages -----------------------------------------------------------


def readiness_section(request: HttpRequest, version) -> dict:
    """Which gates are met for each target stage, who must approve, and the live requests."""
    targets = []
    for stage, label in TargetStage.choices:
        if version.stage == stage:
            continue
        report = gates.evaluate(version, stage)
        targets.append({
            "stage": stage, "label": label, "report": report,
            "roles": [ROLE_LABELS.get(r, r) for r in report.required_roles],
        })
    reqs = list(selectors.promotion_list_for_user(request.user).filter(version=version).order_by("-created_at"))
    developer_ids = frozenset(u.pk for u in version.model.developers.all())
    can_request = perms.explain_cannot_request_promotion(request.user, version.model, developer_ids) is None
    return {
        "version": version, "targets": targets, "requests": reqs,
        "form": OpenRequestForm() if can_request else None,
    }


def promotion_history_section(request: HttpRequest, model) -> dict:
    reqs = list(selectors.promotion_list_for_user(request.user).filter(model=model).order_by("-created_at"))
    return {"requests": reqs}


registry_views.VERSION_SECTIONS.append(
    registry_views.Section(order=10, template="approvals/_readiness.html", build=readiness_section)
)
registry_views.MODEL_SECTIONS.append(
    registry_views.Section(order=30, template="approvals/_history.html", build=promotion_history_section)
)

