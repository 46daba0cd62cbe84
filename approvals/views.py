"""Portal pages that span every app: the dashboard, the approval inbox and promotion requests.

approvals sits at the top of the import chain, so this is where evidence from the registry,
governance and explainability is brought together for a person to act on.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from common.portal import portal_view
from governance.models import AuditEvent
from registry import selectors as registry_selectors
from registry.choices import Stage
from registry.models import ModelVersion

TIERS = [(1, "Tier 1"), (2, "Tier 2"), (3, "Tier 3"), (None, "Not assessed")]


def _tier_stage_matrix(user) -> dict:
    """Models the user can see, by risk tier and by the stages their versions are in."""
    visible = registry_selectors.model_list_for_user(user)
    by_tier = dict(
        visible.order_by().values_list("risk_tier").annotate(n=Count("pk", distinct=True))
    )
    cells = defaultdict(int)
    rows = (
        ModelVersion.objects.filter(model__in=visible.values("pk"))
        .order_by().values_list("model__risk_tier", "stage")
        .annotate(n=Count("model", distinct=True))
    )
    for tier, stage, n in rows:
        cells[(tier, stage)] = n
    return {
        "stages": [s for s in Stage.choices if s[0] != Stage.ARCHIVED],
        "rows": [
            {
                "tier": tier, "label": label, "param": tier or "unassessed",
                "total": by_tier.get(tier, 0),
                "cells": [
                    (stage, cells[(tier, stage)]) for stage, _ in Stage.choices
                    if stage != Stage.ARCHIVED
                ],
            }
            for tier, label in TIERS
        ],
    }


@portal_view
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    visible = registry_selectors.model_list_for_user(user)
    overdue = visible.filter(next_review_date__lt=timezone.localdate()).count()
    recent = AuditEvent.objects.order_by("-seq")[:12]
    return render(request, "approvals/dashboard.html", {
        "matrix": _tier_stage_matrix(user), "overdue_reviews": overdue, "recent_events": recent,
        "model_count": visible.count(),
    })
