"""Use restrictions in the portal: the banner on every page of a model, the block on the model
page where they are recorded and withdrawn, and the two POST views behind its forms."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from common.errors import NotFound, ValidationFailed
from common.portal import portal_view
from governance import permissions as perms
from oversight import selectors, services
from oversight.choices import RestrictionKind
from oversight.models import UseRestriction
from registry import selectors as registry_selectors
from registry.views import MODEL_BANNERS, MODEL_SECTIONS, Section


class UseRestrictionForm(forms.Form):
    kind = forms.ChoiceField(choices=RestrictionKind.choices)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000,
                           label="Restriction")
    expires_on = forms.DateField(required=False, label="Expires on (optional)",
                                 widget=forms.DateInput(attrs={"type": "date"}))


def banner(request: HttpRequest, model) -> dict | None:
    """Every page of the model: its restrictions in force, and expired ones marked expired."""
    rows = selectors.use_restrictions_for(model)
    if not rows:
        return None
    return {"model": model, "rows": rows}


def model_section(request: HttpRequest, model) -> dict:
    can_edit = perms.explain_cannot_edit_use_restrictions(request.user, model) is None
    rows = selectors.use_restrictions_for(model, include_withdrawn=True)
    if can_edit:
        selectors.mark_imposed_by_second_line(rows)
    return {"model": model, "rows": rows, "can_edit": can_edit,
            "second_line": perms.is_second_line_or_admin(request.user),
            "form": UseRestrictionForm() if can_edit else None}


def _back(model) -> HttpResponse:
    return redirect("registry:model-detail", name=model.name)


@require_POST
@portal_view
def restriction_add(request: HttpRequest, name: str) -> HttpResponse:
    model = registry_selectors.model_get_for_user(request.user, name)
    form = UseRestrictionForm(request.POST)
    if not form.is_valid():
        for field, errs in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errs)}")
        return _back(model)
    try:
        r = services.use_restriction_add(actor=request.user, model=model, **form.cleaned_data)
    except ValidationFailed as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Use restriction #{r.pk} recorded: {r.get_kind_display()}.")
    return _back(model)


@require_POST
@portal_view
def restriction_withdraw(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    model = registry_selectors.model_get_for_user(request.user, name)
    restriction = UseRestriction.objects.filter(model=model, pk=pk).first()
    if restriction is None:
        raise NotFound(f"Model {model.name!r} has no use restriction #{pk}.")
    try:
        services.use_restriction_withdraw(actor=request.user, restriction=restriction,
                                          reason=request.POST.get("reason", ""))
    except ValidationFailed as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Use restriction #{pk} withdrawn.")
    return _back(model)


MODEL_BANNERS.append(Section(order=10, template="oversight/_use_restrictions_banner.html", build=banner))
MODEL_SECTIONS.append(Section(order=5, template="oversight/_use_restrictions.html", build=model_section))
