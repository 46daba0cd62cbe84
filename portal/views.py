"""The portal's home page (`/`): what each person should look at first, across every app (models by
tier and stage, requests awaiting their roles, overdue reviews, failed jobs, open high findings,
recent events, serious incidents overdue for reporting). The portal layer sits on top of the apps
it reads (nothing imports it)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from approvals import selectors as approvals_selectors
from common.portal import portal_view
from explainability import selectors as job_selectors
from explainability.choices import JobStatus
from governance import selectors as gov_selectors
from oversight import selectors as ov_selectors
from oversight.choices import BLOCKING_SEVERITIES, UNRESOLVED_FINDING_STATUSES
from registry import selectors as registry_selectors
from registry.choices import Stage
from registry.models import ModelVersion

TIERS = [(1, "Tier 1"), (2, "Tier 2"), (3, "Tier 3"), (None, "Not assessed")]


def _tier_stage_matrix(user) -> dict:
    """Models the user can see, by risk tier and by the stages their versions are in."""
    stages = [s for s in Stage.choices if s[0] != Stage.ARCHIVED]
    # One pass over the models: per model and stage an EXISTS probe on the (stage, model) index,
    # so the cost follows the number of models, not of versions.
    in_stage = {
        stage: Count("pk", filter=Exists(ModelVersion.objects.filter(model=OuterRef("pk"), stage=stage)))
        for stage, _ in stages
    }
    rows = (
        registry_selectors.model_list_for_user(user).order_by().values("risk_tier")
        .annotate(total=Count("pk"), **in_stage)
    )
    by_tier: dict = {}
    cells: dict = defaultdict(int)
    for row in rows:
        by_tier[row["risk_tier"]] = row["total"]
        for stage, _ in stages:
            cells[(row["risk_tier"], stage)] = row[stage]
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
    high_findings = ov_selectors.finding_list_for_user(user).filter(
        status__in=UNRESOLVED_FINDING_STATUSES, severity__in=BLOCKING_SEVERITIES
    )
    matrix = _tier_stage_matrix(user)
    # One query, whatever the number of incidents: the rows carry their model and clock.
    overdue_incidents = list(ov_selectors.overdue_incidents(user=user)[:20])
    return render(request, "portal/dashboard.html", {
        "overdue_incidents": overdue_incidents,
        "overdue_incidents_url": reverse("oversight:incident-list") + "?state=overdue",
        "matrix": matrix,
        "model_count": sum(row["total"] for row in matrix["rows"]),
        "awaiting": approvals_selectors.inbox_for_user(user).count(),
        "overdue_reviews": ov_selectors.overdue_reviews(user).count(),
        "failed_jobs": job_selectors.job_list_for_user(user).filter(status=JobStatus.FAILED).count(),
        "failed_jobs_url": reverse("explainability:job-list") + "?status=failed",
        "open_high_findings": high_findings.count(),
        "findings_url": reverse("oversight:finding-list") + "?open_high=1",
        "recent_events": gov_selectors.audit_events_for_user(user).order_by("-seq")[:12],
        # Production versions whose signed-off documentation an edit cleared (joined, one query).
        "lapsed": list(ov_selectors.lapsed_in_production(user)[:50]),
    })
