"""The model inventory (`/models/`): every model the user may see with its tier, stages, open
findings and review date, filtered and sorted. An oversight page: it reads the registry's models
and oversight's findings."""

from __future__ import annotations

from collections.abc import Callable

import django_filters
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from common.portal import paginate, portal_view
from governance.models import Team
from oversight.choices import UNRESOLVED_FINDING_STATUSES
from oversight.models import Finding
from registry import filters
from registry import selectors as registry_selectors
from registry.choices import Stage
from registry.models import ModelVersion, RegisteredModel

STAGE_ORDER = {s: i for i, s in enumerate([Stage.PRODUCTION, Stage.STAGING, Stage.DEVELOPMENT, Stage.ARCHIVED])}

#: Badges apps above oversight show beside each model (approvals: frameworks fully met): each
#: fn(models on the page) -> {model id: [{"label", "title", ...}]}, in a bounded number of
#: queries for the page, never per row.
INVENTORY_BADGES: list[Callable[[list[RegisteredModel]], dict[int, list[dict]]]] = []


class InventoryFilter(filters.ModelFilter):
    """The API's model filters plus the portal's: review overdue and open findings."""

    review_overdue = django_filters.BooleanFilter(method="filter_review_overdue")
    has_open_findings = django_filters.BooleanFilter(method="filter_has_open_findings")

    class Meta(filters.ModelFilter.Meta):
        fields = [*filters.ModelFilter.Meta.fields, "review_overdue", "has_open_findings"]

    def filter_has_open_findings(self, qs, name, value):
        unresolved = Finding.objects.filter(model=OuterRef("pk"), status__in=UNRESOLVED_FINDING_STATUSES)
        return qs.filter(Exists(unresolved)) if value else qs.exclude(Exists(unresolved))

    def filter_review_overdue(self, qs, name, value):
        overdue = Q(next_review_date__lt=timezone.localdate())
        return qs.filter(overdue) if value else qs.exclude(overdue)


def _inventory_queryset(user):
    """Visible models without aggregates: open findings are prefetched for the page's rows only,
    so sorting and counting stay on the models table (fast at 10k models)."""
    findings = Finding.objects.filter(status__in=UNRESOLVED_FINDING_STATUSES).only("id", "model_id")
    return (
        RegisteredModel.objects.filter(registry_selectors.model_visibility(user))
        .select_related("team", "owner")
        .prefetch_related(Prefetch("findings", queryset=findings, to_attr="portal_open_findings"))
    )


def _stages_by_model(model_ids: list[int]) -> dict[int, set[str]]:
    """The stages each model has versions in: one row per (model, stage), however many
    versions a model has."""
    found: dict[int, set[str]] = {pk: set() for pk in model_ids}
    rows = (
        ModelVersion.objects.filter(model_id__in=model_ids).order_by()
        .values_list("model_id", "stage").distinct()
    )
    for model_id, stage in rows:
        found[model_id].add(stage)
    return found


@portal_view
def inventory(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    params.setdefault("ordering", "name")
    flt = InventoryFilter(params, queryset=_inventory_queryset(request.user))
    page = paginate(request, flt.qs)
    today = timezone.localdate()
    stages = _stages_by_model([m.pk for m in page.object_list])
    for model in page.object_list:
        model.stages = sorted(stages[model.pk], key=STAGE_ORDER.get)
        model.open_findings = len(model.portal_open_findings)
        model.review_overdue = bool(model.next_review_date and model.next_review_date < today)
        model.badges = []
    rows = {m.pk: m for m in page.object_list}
    for provider in INVENTORY_BADGES:
        for model_id, badges in provider(list(rows.values())).items():
            rows[model_id].badges.extend(badges)
    eu_classes = (
        RegisteredModel.objects.exclude(eu_ai_act_class="")
        .order_by("eu_ai_act_class").values_list("eu_ai_act_class", flat=True).distinct()
    )
    return render(request, "oversight/inventory.html", {
        "page": page, "filter": flt, "params": params,
        "teams": Team.objects.filter(Exists(RegisteredModel.objects.filter(team=OuterRef("pk")))),
        "eu_classes": list(eu_classes), "stages": Stage.choices,
        "sorts": [("name", "Name"), ("-updated_at", "Recently changed"),
                  ("risk_tier", "Risk tier (1 first)"), ("next_review_date", "Next review")],
    })
