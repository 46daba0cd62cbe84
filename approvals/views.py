"""Portal pages of approvals: the approval inbox, promotion requests, and
the readiness panel and promotion history on the registry's pages.

approvals sits at the top of the import chain, so this is where evidence from the registry,
governance and explainability is brought together for a person to act on. Every rule (who may
decide, which gates apply) is asked of approvals' selectors/gates and governance.permissions.
"""

from __future__ import annotations

import functools

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from approvals import attestations, gates, selectors, services
from approvals.choices import LIVE_STATES, ConditionStatus, DecisionKind, TargetStage
from common.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from common.portal import form_errors_from, paginate, portal_view
from governance import permissions as perms
from governance.choices import Role
from governance.models import AuditEvent
from oversight import selectors as ov_selectors
from registry import selectors as registry_selectors
from registry import views as registry_views
from registry.choices import Stage

ROLE_LABELS = dict(Role.choices)


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


class ConditionForm(forms.Form):
    """One condition attached to an approval: what must be done, and by when."""

    text = forms.CharField(required=False, max_length=1000, label="Condition")
    due_date = forms.DateField(required=False, label="Due by",
                               widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("text") and not data.get("due_date"):
            self.add_error("due_date", "A condition needs a due date.")
        if data.get("due_date") and not data.get("text"):
            self.add_error("text", "Say what must be done by that date.")
        return data


ConditionFormSet = forms.formset_factory(ConditionForm, extra=3, max_num=10)


def _conditions(formset) -> list[dict]:
    if not formset.is_bound:
        return []
    return [
        {"text": f.cleaned_data["text"], "due_date": f.cleaned_data["due_date"].isoformat()}
        for f in formset.forms if f.cleaned_data.get("text")
    ]


class ResolveConditionForm(forms.Form):
    note = forms.CharField(label="How it was met", widget=forms.Textarea(attrs={"rows": 2}))


def _request_context(request: HttpRequest, req, form: DecisionForm | None = None,
                     conditions_formset=None, resolve_form=None, resolve_for=None) -> dict:
    allowed = selectors.allowed_actions(request.user, req)
    live = None
    if req.state in LIVE_STATES:
        live = gates.evaluate(req.version, req.target_stage, policy=req.policy)
    if form is None and allowed["decide_as"]:
        form = DecisionForm(roles=allowed["decide_as"])
    if form is not None and conditions_formset is None:
        conditions_formset = ConditionFormSet(prefix="cond")
    decisions = sorted(req.decisions.all(), key=lambda d: d.created_at)
    filled = {d.role for d in decisions if d.decision == DecisionKind.APPROVE}
    conditions = sorted(req.conditions.all(), key=lambda c: (c.due_date, c.pk))
    prefetch_related_objects(conditions, "resolved_by")
    return {
        "req": req, "allowed": allowed, "form": form, "decisions": decisions,
        "conditions_formset": conditions_formset, "conditions": conditions,
        "resolve_form": ResolveConditionForm() if allowed["resolve_conditions"] and any(
            c.status == ConditionStatus.OPEN for c in conditions) else None,
        "bound_resolve_form": resolve_form, "resolve_for": resolve_for,
        "today": timezone.localdate(),
        "separate_execution": req.policy.execution_mode(req.target_stage) == "separate",
        "live_report": live, "snapshot": req.gate_report or {},
        "document_revisions": list(ov_selectors.revisions_by_id(
            (req.evidence or {}).get("document_revisions") or []).values()),
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
    # A client that sends no condition rows at all (no management form) attaches none.
    formset = ConditionFormSet(request.POST if "cond-TOTAL_FORMS" in request.POST else None, prefix="cond")
    if form.is_valid() and (not formset.is_bound or formset.is_valid()):
        approve = form.cleaned_data["decision"] == DecisionKind.APPROVE
        try:
            req = services.promotion_decide(
                actor=request.user, request_id=req.pk, decision=form.cleaned_data["decision"],
                role=form.cleaned_data["role"], comment=form.cleaned_data["comment"],
                conditions=_conditions(formset) if approve else None,
            )
        except (ValidationFailed, Conflict) as exc:
            form_errors_from(form, exc)
        else:
            verb = dict(DecisionKind.choices)[form.cleaned_data["decision"]].lower()
            count = len(_conditions(formset)) if approve else 0
            extra = f" with {count} condition(s)" if count else ""
            messages.success(request, f"Recorded: {verb} as {ROLE_LABELS.get(form.cleaned_data['role'], form.cleaned_data['role'])}{extra}. "
                                      f"The request is now {req.state}.")
            return redirect("approvals:request-detail", request_id=req.pk)
    req = selectors.promotion_get_for_user(request.user, request_id)
    return render(request, "approvals/request_detail.html",
                  _request_context(request, req, form, formset), status=400)


@require_POST
@portal_view
def request_withdraw(request: HttpRequest, request_id: int) -> HttpResponse:
    req = selectors.promotion_get_for_user(request.user, request_id)
    services.promotion_withdraw(actor=request.user, request_id=req.pk, reason=request.POST.get("reason", ""))
    messages.success(request, f"Promotion request #{req.pk} withdrawn.")
    return redirect("approvals:request-detail", request_id=req.pk)


@require_POST
@portal_view
def request_execute(request: HttpRequest, request_id: int) -> HttpResponse:
    """Execute an approved request (waiting for evidence, or a separate step by policy)."""
    req = selectors.promotion_get_for_user(request.user, request_id)
    try:
        req = services.promotion_execute(actor=request.user, request_id=req.pk)
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        if req.state == "executed":
            messages.success(request, f"Promotion request #{req.pk} executed: {req.version.ref} is "
                                      f"now in {req.target_stage}.")
        else:
            messages.warning(request, f"Promotion request #{req.pk} is {req.state}: {req.state_reason}")
    return redirect("approvals:request-detail", request_id=req.pk)


@require_POST
@portal_view
def condition_resolve(request: HttpRequest, request_id: int, condition_id: int) -> HttpResponse:
    """The requester or the model owner marks a condition of approval met, saying how."""
    req = selectors.promotion_get_for_user(request.user, request_id)
    form = ResolveConditionForm(request.POST)
    if form.is_valid():
        try:
            cond = services.condition_resolve(actor=request.user, request_id=req.pk,
                                              condition_id=condition_id, note=form.cleaned_data["note"])
        except (Forbidden, NotFound):
            raise
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Condition met: {cond.text}")
    else:
        return render(request, "approvals/request_detail.html",
                      _request_context(request, req, resolve_form=form, resolve_for=condition_id),
                      status=400)
    return redirect(reverse("approvals:request-detail", args=[req.pk]) + "#conditions")


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
        except (ValidationFailed, Conflict) as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Promotion request #{req.pk} opened: {mv.ref} → {req.target_stage}.")
            return redirect("approvals:request-detail", request_id=req.pk)
    return render(request, "approvals/request_open.html", {"form": form, "version": mv, "model": model}, status=400)


class RollbackForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Mandatory: what went wrong. It is recorded and sent to the "
                                       "owner, the developers and the validators.")


@require_POST
@portal_view
def version_rollback(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """Emergency rollback: the version leaves staging/production at once (validators and the
    model owner; the rule and the checks are the service's)."""
    model = registry_selectors.model_get_for_user(request.user, name)
    mv = registry_selectors.version_get(model, version)
    refusal = perms.explain_cannot_rollback(request.user, model)
    if refusal:
        raise Forbidden(refusal)
    form = RollbackForm(request.POST)
    if form.is_valid():
        before = mv.stage
        try:
            mv = services.version_rollback(actor=request.user, version=mv,
                                           reason=form.cleaned_data["reason"])
        except (Forbidden, NotFound):
            raise
        except DomainError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"{mv.ref} rolled back from {before}: it is now {mv.stage}. "
                                      "Restoring it needs a new promotion request.")
            return redirect(reverse("registry:version-detail", args=[model.name, mv.version]))
    return render(request, "approvals/rollback.html", {"model": model, "version": mv, "form": form},
                  status=400)


# --- notifications --------------------------------------------------------------------------


def _local_link(link: str) -> str:
    """Notification links are absolute (for e-mail); in the portal, keep our own as paths."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    if link.startswith(base + "/"):
        return link[len(base):]
    return link


@portal_view
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's in-app notifications, newest first (?unread=1: only the unread ones)."""
    qs = selectors.notifications_for_user(request.user).order_by("-created_at", "-id")
    unread_only = request.GET.get("unread") == "1"
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    page = paginate(request, qs)
    for note in page.object_list:
        note.local_link = _local_link(note.link)
    return render(request, "approvals/notifications.html", {"page": page, "unread_only": unread_only})


def _mark_read(user, ids=None) -> int:
    """Mark the user's notifications read (a per-user flag, not a governed state change: no audit
    event, as in the notifications API; auditors change nothing, as there)."""
    refusal = perms.explain_cannot_write(user)
    if refusal:
        raise Forbidden(refusal)
    qs = selectors.notifications_for_user(user).filter(read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


@require_POST
@portal_view
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark one notification read; with open=1, then follow its link."""
    note = selectors.notifications_for_user(request.user).filter(pk=notification_id).first()
    if note is None:
        raise NotFound(f"No notification {notification_id} in your inbox.")
    _mark_read(request.user, [note.pk])
    target = _local_link(note.link)
    if request.POST.get("open") and target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(request.POST.get("next") or reverse("approvals:notifications"))


@require_POST
@portal_view
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = _mark_read(request.user)
    messages.success(request, f"Marked {count} notification(s) read.")
    return redirect("approvals:notifications")


def nav_counts(request: HttpRequest) -> dict:
    """Context processor: the unread count beside "Notifications" in the navigation (evaluated
    only when a page shows it)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @functools.cache
    def unread() -> int:
        return selectors.notifications_for_user(user).filter(read_at__isnull=True).count()

    return {"unread_notifications": unread}


# --- sections on the registry's pages -----------------------------------------------------------


def readiness_section(request: HttpRequest, version) -> dict:
    """Which gates are met for each target stage, who must approve, and the live requests."""
    targets = []
    for stage, label in TargetStage.choices:
        # The stage the version is in is judged too: does it still meet what put it there
        # (e.g. a documentation sign-off that lapsed while it was live)?
        report = gates.evaluate(version, stage)
        targets.append({
            "stage": stage, "label": label, "report": report, "current": version.stage == stage,
            "roles": [ROLE_LABELS.get(r, r) for r in report.required_roles],
        })
    reqs = list(selectors.promotion_list_for_user(request.user).filter(version=version).order_by("-created_at"))
    developer_ids = frozenset(u.pk for u in version.model.developers.all())
    can_request = perms.explain_cannot_request_promotion(request.user, version.model, developer_ids) is None
    return {
        "version": version, "targets": targets, "requests": reqs,
        "form": OpenRequestForm() if can_request else None,
    }


def rollback_section(request: HttpRequest, version) -> dict | None:
    """The emergency rollback form, for validators and the model owner, on a live version."""
    if version.stage not in (Stage.PRODUCTION, Stage.STAGING):
        return None
    if perms.explain_cannot_rollback(request.user, version.model):
        return None
    return {"version": version, "form": RollbackForm()}


def promotion_history_section(request: HttpRequest, model) -> dict:
    reqs = list(selectors.promotion_list_for_user(request.user).filter(model=model).order_by("-created_at"))
    return {"requests": reqs}


registry_views.VERSION_SECTIONS.append(
    registry_views.Section(order=10, template="approvals/_readiness.html", build=readiness_section)
)
registry_views.VERSION_SECTIONS.append(
    registry_views.Section(order=12, template="approvals/_rollback.html", build=rollback_section)
)
registry_views.MODEL_SECTIONS.append(
    registry_views.Section(order=30, template="approvals/_history.html", build=promotion_history_section)
)



def attestations_section(request: HttpRequest, version) -> dict | None:
    """The version's signed release attestations, with the checkpoint that sealed each."""
    from governance.auditlog import proofs

    rows = list(attestations.attestations_for_version(version))
    if not rows:
        return None
    numbers = proofs.checkpoint_numbers([a.audit_position for a in rows])
    return {"version": version,
            "attestations": [attestations.attestation_dict(a, checkpoints=numbers) for a in rows]}


registry_views.VERSION_SECTIONS.append(
    registry_views.Section(order=14, template="approvals/_attestations.html",
                           build=attestations_section)
)
