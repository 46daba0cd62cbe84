"""Portal pages where the registry's models meet oversight's records: the risk questionnaire
and its history, the documentation block and coverage matrix of a version (starting a missing
document from its template), and opening a finding on a model or version. The pages sit under
the registry's URLs (`/models/<name>/...`); the blocks on the registry's model and version pages
are added through `registry.views.MODEL_SECTIONS` / `VERSION_SECTIONS`.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from common.portal import form_errors_from, portal_view
from governance import permissions as perms
from governance import selectors as gov_selectors
from oversight import prefill, risk, services
from oversight import selectors as ov_selectors
from oversight.choices import Severity
from oversight.models import Document
from registry import selectors
from registry.views import MODEL_SECTIONS, VERSION_SECTIONS, Section

# --- risk assessment (governance rules, shown on the registry's model) -----------------------


class RiskQuestionnaireForm(forms.Form):
    """The risk questionnaire as radio groups; scoring stays in oversight.risk."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for q in risk.QUESTIONS:
            self.fields[q.key] = forms.ChoiceField(
                label=q.text, help_text=q.help, widget=forms.RadioSelect,
                choices=[(value, label) for value, label, _ in q.options],
            )


class RiskOverrideForm(forms.Form):
    tier = forms.TypedChoiceField(coerce=int, choices=[(1, "Tier 1"), (2, "Tier 2"), (3, "Tier 3")])
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                     help_text="Required: why the computed tier is wrong.")


def _risk_context(request: HttpRequest, model, form=None, override_form=None) -> dict:
    history = list(ov_selectors.risk_assessment_list(model))
    current = history[0] if history else None
    can_assess = perms.explain_cannot_assess_risk(request.user, model) is None
    can_override = current is not None and perms.explain_cannot_override_risk(request.user) is None
    if form is None and can_assess:
        form = RiskQuestionnaireForm(initial=current.answers if current else None)
    if override_form is None and can_override:
        override_form = RiskOverrideForm(initial={"tier": current.effective_tier})
    return {
        "model": model, "current": current, "history": history,
        "form": form if can_assess else None, "override_form": override_form if can_override else None,
        "questionnaire": risk.questionnaire(),
    }


@portal_view
def risk_assessment(request: HttpRequest, name: str) -> HttpResponse:
    """The questionnaire as a form; the resulting tier and its reasons; the history."""
    model = selectors.model_get_for_user(request.user, name)
    if request.method == "POST":
        form = RiskQuestionnaireForm(request.POST)
        if form.is_valid():
            try:
                assessment = services.risk_assessment_create(
                    actor=request.user, model=model, answers=form.cleaned_data
                )
            except ValidationFailed as exc:
                form_errors_from(form, exc)
            else:
                messages.success(request, f"Assessed: tier {assessment.effective_tier}, EU AI Act "
                                          f"class {assessment.eu_ai_act_class}.")
                return redirect("oversight:risk", name=model.name)
        return render(request, "oversight/risk.html", _risk_context(request, model, form=form), status=400)
    return render(request, "oversight/risk.html", _risk_context(request, model))


@require_POST
@portal_view
def risk_override(request: HttpRequest, name: str) -> HttpResponse:
    model = selectors.model_get_for_user(request.user, name)
    current = ov_selectors.risk_assessment_current(model)
    if current is None:
        raise NotFound(f"Model {model.name!r} has no risk assessment to override.")
    form = RiskOverrideForm(request.POST)
    if form.is_valid():
        try:
            services.risk_assessment_override(
                actor=request.user, assessment=current, tier=form.cleaned_data["tier"],
                justification=form.cleaned_data["justification"],
            )
        except ValidationFailed as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Tier overridden to {form.cleaned_data['tier']}.")
            return redirect("oversight:risk", name=model.name)
    return render(request, "oversight/risk.html", _risk_context(request, model, override_form=form), status=400)


def governance_model_section(request: HttpRequest, model) -> dict:
    """Risk (tier and why), open findings, on the model page."""
    findings = list(
        ov_selectors.finding_list_for_user(request.user).filter(model=model)
        .exclude(status__in=["closed"])[:50]
    )
    return {
        "model": model, "current": ov_selectors.risk_assessment_current(model), "findings": findings,
        "can_open_finding": perms.explain_cannot_open_finding(request.user, model) is None,
    }


def findings_version_section(request: HttpRequest, version) -> dict:
    """Findings on this version (and on the model as a whole), and the way to open one."""
    findings = list(
        ov_selectors.finding_list_for_user(request.user)
        .filter(Q(version=version) | Q(version__isnull=True), model=version.model)[:50]
    )
    return {
        "version": version, "findings": findings,
        "can_open_finding": perms.explain_cannot_open_finding(request.user, version.model) is None,
    }


def documents_version_section(request: HttpRequest, version) -> dict:
    """The version's documents, their completeness under the tier policy, export links, and the
    templates not started yet (with a start button for those who may write the documentation)."""
    documents = ov_selectors.documents_for_version(version)
    completeness = None
    try:
        policy = gov_selectors.policy_for_tier(version.model.risk_tier or 1)
    except Conflict:
        policy = None
    if policy is not None:
        completeness = ov_selectors.document_completeness(version, policy)
    started = {d.template_slug for d in documents}
    can_edit = perms.explain_cannot_edit_documentation(request.user, version.model) is None
    return {
        "version": version, "documents": documents, "completeness": completeness,
        "missing_templates": [t for t in gov_selectors.template_list() if t.slug not in started],
        "can_edit": can_edit,
    }


@require_POST
@portal_view
def document_start(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """Start the version's documentation under a template, pre-filled from the registry."""
    model = selectors.model_get_for_user(request.user, name)
    mv = selectors.version_get(model, version)
    slug = request.POST.get("template", "")
    try:
        document = services.document_create(
            actor=request.user, version=mv, template_slug=slug, prefill=prefill.facts_for_version(mv)
        )
    except (ValidationFailed, Conflict) as exc:
        messages.error(request, exc.detail)
        return redirect(reverse("registry:version-detail", args=[model.name, mv.version]) + "#documentation")
    messages.success(request, f"Started the {document.template.title} of {mv.ref}, pre-filled from "
                              f"the registry: {document.revision} section(s) drafted.")
    return redirect("oversight:document-detail", pk=document.pk)


@portal_view
def version_coverage(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """The regulatory coverage matrix: each source, the sections answering it, filled/signed."""
    model = selectors.model_get_for_user(request.user, name)
    mv = selectors.version_get(model, version)
    rows = ov_selectors.coverage_matrix(mv)
    return render(request, "oversight/coverage.html", {
        "model": model, "version": mv, "rows": rows,
        "covered": sum(1 for r in rows if r["covered"]),
        "signed": sum(1 for r in rows if r["signed_off"]),
    })


# --- findings: opened from a model or version page ----------------------------------------


class FindingOpenForm(forms.Form):
    title = forms.CharField(max_length=200)
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.MEDIUM)
    version = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                     label="Version (empty: the model as a whole)")
    document = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                      label="Document (optional)")
    section_key = forms.CharField(required=False, max_length=64, label="Section key (optional)",
                                  help_text="The document section the finding is about.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}))
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, versions=(), documents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [("", "All versions")] + [
            (v.version, f"v{v.version} ({v.stage})") for v in versions
        ]
        self.fields["document"].choices = [("", "None")] + [
            (d.pk, f"v{d.version.version} · {d.template.title}") for d in documents
        ]


@portal_view
def finding_open(request: HttpRequest, name: str) -> HttpResponse:
    """Validators and compliance open a finding on a model (optionally a version or a document
    section); the rule and the checks are governance's."""
    model = selectors.model_get_for_user(request.user, name)
    refusal = perms.explain_cannot_open_finding(request.user, model)
    if refusal:
        raise Forbidden(refusal)
    versions = list(selectors.version_rows(model))
    documents = list(Document.objects.filter(version__model=model)
                     .select_related("template", "version").order_by("-version__version", "template_slug"))
    if request.method == "POST":
        form = FindingOpenForm(request.POST, versions=versions, documents=documents)
        if form.is_valid():
            data = form.cleaned_data
            mv = next((v for v in versions if v.version == data["version"]), None)
            doc = next((d for d in documents if d.pk == data["document"]), None)
            try:
                finding = services.finding_open(
                    actor=request.user, model=model, title=data["title"],
                    severity=data["severity"], description=data["description"], version=mv,
                    document=doc, section_key=data["section_key"], due_date=data["due_date"],
                )
            except ValidationFailed as exc:
                form_errors_from(form, exc)
            else:
                messages.success(request, f"Finding #{finding.pk} opened; {finding.owner.username if finding.owner else 'nobody'} was notified.")
                return redirect("oversight:finding-detail", pk=finding.pk)
        status = 400
    else:
        initial = {k: request.GET[k] for k in ("version", "document", "section_key") if request.GET.get(k)}
        form = FindingOpenForm(initial=initial, versions=versions, documents=documents)
        status = 200
    return render(request, "oversight/finding_open.html", {"model": model, "form": form}, status=status)


MODEL_SECTIONS.append(Section(order=10, template="oversight/_governance.html", build=governance_model_section))
VERSION_SECTIONS.append(Section(order=30, template="oversight/_documents.html", build=documents_version_section))
VERSION_SECTIONS.append(Section(order=35, template="oversight/_version_findings.html", build=findings_version_section))
