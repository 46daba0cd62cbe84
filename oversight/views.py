"""Portal pages of oversight: the findings list. Pages about one finding, one document and one
model's risk and documentation are in views_findings, views_documents and views_models."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from common.portal import paginate, portal_view
from oversight import selectors
from oversight.choices import (
    BLOCKING_SEVERITIES,
    UNRESOLVED_FINDING_STATUSES,
    FindingStatus,
    Severity,
)


@portal_view
def finding_list(request: HttpRequest) -> HttpResponse:
    """Validation findings on models the user may see; ?open_high=1 lists the blocking ones."""
    qs = selectors.finding_list_for_user(request.user)
    status = request.GET.get("status", "")
    severity = request.GET.get("severity", "")
    open_high = request.GET.get("open_high") == "1"
    if open_high:
        qs = qs.filter(status__in=UNRESOLVED_FINDING_STATUSES, severity__in=BLOCKING_SEVERITIES)
    if status in FindingStatus.values:
        qs = qs.filter(status=status)
    if severity in Severity.values:
        qs = qs.filter(severity=severity)
    return render(request, "oversight/finding_list.html", {
        "page": paginate(request, qs), "status": status, "severity": severity,
        "open_high": open_high, "statuses": FindingStatus.choices, "severities": Severity.choices,
    })
