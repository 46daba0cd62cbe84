"""Portal views of compliance against the regulatory crosswalk: the matrix page of a version
(frameworks x met / missing / not applicable, drilling down to each obligation and its evidence),
its summary block on the version page, the badges on the inventory and the section of the
documentation pack. The inventory and the pack are oversight's, below approvals, so they take
these through their hooks (`INVENTORY_BADGES`, `PACK_SECTIONS`), as the registry's pages take
`VERSION_SECTIONS`."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from approvals import compliance
from common.errors import ValidationFailed
from common.portal import portal_view
from oversight import export as oversight_export
from oversight import views_inventory
from registry import selectors as registry_selectors
from registry import views as registry_views


def _framework_param(request: HttpRequest) -> str | None:
    framework = request.GET.get("framework") or None
    names = compliance.framework_names()
    if framework is not None and framework not in names:
        msg = f"framework must be one of {', '.join(names)} (not {framework!r})."
        raise ValidationFailed(msg, errors={"framework": [msg]})
    return framework


@portal_view
def version_compliance(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """The matrix of every framework, and the obligations of each (or of ?framework=)."""
    model = registry_selectors.model_get_for_user(request.user, name)
    mv = registry_selectors.version_get(model, version)
    framework = _framework_param(request)
    report = compliance.evaluate(mv)
    shown = [f for f in report["frameworks"] if framework in (None, f["framework"])]
    return render(request, "approvals/compliance.html", {
        "model": model, "version": mv, "report": report, "shown": shown,
        "framework": framework,
    })


def compliance_section(request: HttpRequest, version) -> dict:
    """The version page's block: each framework's counts, linking to the matrix."""
    return {"version": version, "report": compliance.summary(compliance.evaluate(version))}


def inventory_badges(models: list) -> dict[int, list[dict]]:
    """A badge for each framework whose every applicable obligation the model's current version
    meets (a bounded number of queries for the page)."""
    found = compliance.badges_for_models(models)
    return {
        model_id: [{"label": f"{b['short']} ✓", "framework": b["framework"],
                    "title": f"v{b['version']} meets every applicable obligation of {b['title']} "
                             f"({b['counts']['met']} met, {b['counts']['not_applicable']} n.a.)"}
                   for b in badges]
        for model_id, badges in found.items()
    }


def pack_section(version) -> dict:
    """The documentation pack's compliance section: every framework, obligation by obligation."""
    return {"report": compliance.evaluate(version)}


registry_views.VERSION_SECTIONS.append(
    registry_views.Section(order=16, template="approvals/_compliance.html",
                           build=compliance_section)
)
views_inventory.INVENTORY_BADGES.append(inventory_badges)
oversight_export.PACK_SECTIONS.append(
    oversight_export.PackSection(50, "approvals/export/_compliance.html", pack_section)
)
