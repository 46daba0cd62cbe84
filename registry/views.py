"""Portal pages of the registry: model and version pages, datasets, lineage explorer, and "what
was in production on date D". Views parse, call registry selectors, and render.

Apps above the registry (explainability, oversight, approvals) add sections to the model and
version pages through `MODEL_SECTIONS` / `VERSION_SECTIONS` (the registry never imports them).
The inventory, which shows oversight's findings beside each model, is oversight's page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from common.errors import ValidationFailed
from common.portal import paginate, portal_view
from governance import permissions as perms
from governance.models import AuditEvent
from registry import filters, selectors
from registry.choices import Stage
from registry.models import DatasetVersion, LineageEdge, ModelVersion

PAGE_LINEAGE_DEPTH = 10


@dataclass(frozen=True)
class Section:
    """A block another app renders on a registry page: `build(request, obj)` returns the
    template context (or None to show nothing); `order` sorts the blocks."""

    order: int
    template: str
    build: Callable


MODEL_SECTIONS: list[Section] = []
VERSION_SECTIONS: list[Section] = []
#: Blocks shown at the top of EVERY page about one model (its model and version pages, and the
#: pages of the apps above about its documents, findings, jobs, promotions...): base.html calls
#: `{% model_banners %}` (registry/templatetags/model_banners.py), which finds the page's model
#: in its context. `build(request, model)` returns the context (or None to show nothing).
MODEL_BANNERS: list[Section] = []


def _render_sections(sections: list[Section], request: HttpRequest, obj) -> list[dict]:
    out = []
    for section in sorted(sections, key=lambda s: s.order):
        ctx = section.build(request, obj)
        if ctx is not None:
            out.append({"template": section.template, "ctx": ctx})
    return out


# --- model and version pages ------------------------------------------------------------


@portal_view
def model_detail(request: HttpRequest, name: str) -> HttpResponse:
    model = selectors.model_get_for_user(request.user, name)
    versions = list(selectors.version_rows(model))
    trail = AuditEvent.objects.filter(model_name=model.name).order_by("-seq")[:100]
    return render(request, "registry/model_detail.html", {
        "model": model, "versions": versions, "trail": trail,
        "review_overdue": bool(model.next_review_date and model.next_review_date < timezone.localdate()),
        "can_edit": perms.explain_cannot_edit_model(request.user, model) is None,
        "sections": _render_sections(MODEL_SECTIONS, request, model),
    })


@portal_view
def version_detail(request: HttpRequest, name: str, version: int) -> HttpResponse:
    model = selectors.model_get_for_user(request.user, name)
    mv = selectors.version_get(model, version)
    node = f"model:{model.name}@{mv.version}"
    graph = selectors.lineage_graph(request.user, node=node, direction="both", depth=PAGE_LINEAGE_DEPTH)
    return render(request, "registry/version_detail.html", {
        "model": model, "version": mv, "graph": graph, "node": node,
        "edges_in": list(mv.upstream_edges.all()),
        "sections": _render_sections(VERSION_SECTIONS, request, mv),
    })


# --- datasets ---------------------------------------------------------------------------


@portal_view
def dataset_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("search", "").strip()
    qs = filters.DatasetFilter({"search": search}, queryset=selectors.dataset_list().order_by("name")).qs
    return render(request, "registry/dataset_list.html", {"page": paginate(request, qs), "search": search})


@portal_view
def dataset_detail(request: HttpRequest, name: str) -> HttpResponse:
    dataset = selectors.dataset_get(name)
    versions = list(
        selectors.dataset_version_list(dataset).prefetch_related(
            Prefetch(
                "downstream_edges",
                queryset=LineageEdge.objects.select_related("downstream_model__model"),
            )
        ).order_by("-version")
    )
    return render(request, "registry/dataset_detail.html", {"dataset": dataset, "versions": versions})


# --- lineage explorer ---------------------------------------------------------------------


@portal_view
def lineage(request: HttpRequest) -> HttpResponse:
    """Pick a dataset version: everything it fed, to any depth. Pick a model version:
    everything it came from (and, on request, everything it feeds)."""
    node = request.GET.get("node", "").strip()
    if not node and request.GET.get("dataset"):
        node = f"dataset:{request.GET['dataset']}"
    if not node and request.GET.get("model"):
        node = f"model:{request.GET['model']}"
    default_dir = "downstream" if node.startswith("dataset:") else "upstream"
    direction = request.GET.get("direction") or default_dir
    try:
        depth = int(request.GET.get("depth") or selectors.MAX_LINEAGE_DEPTH)
    except ValueError:
        depth = selectors.MAX_LINEAGE_DEPTH
    graph, error = None, ""
    if node:
        try:
            graph = selectors.lineage_graph(request.user, node=node, direction=direction, depth=depth)
        except ValidationFailed as exc:
            error = exc.detail
    models_in_graph = [n for n in (graph or {}).get("nodes", []) if n["type"] == "model"]
    dataset_versions = DatasetVersion.objects.select_related("dataset").order_by("dataset__name", "-version")[:500]
    model_versions = (
        ModelVersion.objects.filter(model__in=selectors.model_list_for_user(request.user).values("pk"))
        .select_related("model").order_by("model__name", "-version")[:500]
    )
    return render(request, "registry/lineage.html", {
        "node": node, "direction": direction, "depth": depth,
        "model_direction": direction if node.startswith("model:") else "upstream", "graph": graph, "error": error,
        "models_in_graph": models_in_graph, "dataset_versions": dataset_versions,
        "model_versions": model_versions, "max_depth": selectors.MAX_LINEAGE_DEPTH,
    })


# --- what was in production on date D ------------------------------------------------------


@portal_view
def production_on(request: HttpRequest) -> HttpResponse:
    """Versions in production at the end of day D (in the user's time zone), from the audit record."""
    raw = request.GET.get("date", "")
    error = ""
    try:
        day = dt.date.fromisoformat(raw) if raw else timezone.localdate()
    except ValueError:
        day, error = timezone.localdate(), f"{raw!r} is not a date (YYYY-MM-DD)."
    end_of_day = timezone.make_aware(dt.datetime.combine(day, dt.time.max))
    versions = selectors.versions_in_stage_on(request.user, stage=Stage.PRODUCTION, moment=end_of_day)
    return render(request, "registry/production_on.html", {
        "day": day, "versions": versions, "error": error, "moment": end_of_day,
    })
