"""The findings side of effective challenge (SR 11-7): findings raised, by severity, time to
remediation and re-opened findings over a period, grouped by reviewer or by model. Every figure
is one aggregate query per grouping (no query per finding); approvals combines them with the
promotion decisions (approvals.challenge)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Exists, Min, OuterRef, Q

from oversight.choices import FindingStatus
from oversight.models import Finding, FindingResponse

#: The group keys: who raised a finding (its reviewer), or the model it is about.
_FINDING_GROUP = {"reviewer": "opened_by__username", "model": "model__name"}
_REOPEN_GROUP = {"reviewer": "author__username", "model": "finding__model__name"}
#: A finding counts as remediated at its first move to remediated (or closed without that step).
REMEDIATION_STATUSES = (FindingStatus.REMEDIATED, FindingStatus.CLOSED)
_RESOLVED = (FindingStatus.REMEDIATED, FindingStatus.ACCEPTED, FindingStatus.CLOSED)


def findings_by_severity(group: str, start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, int]]:
    """{name: {severity: count}} of findings raised in [start, end)."""
    key = _FINDING_GROUP[group]
    out: dict[str, dict[str, int]] = defaultdict(dict)
    rows = (Finding.objects.filter(created_at__gte=start, created_at__lt=end, **{f"{key}__isnull": False})
            .values(key, "severity").annotate(n=Count("pk")).order_by())
    for row in rows:
        out[row[key]][row["severity"]] = row["n"]
    return dict(out)


def remediation_times(group: str, start: dt.datetime, end: dt.datetime) -> dict[str, list[dt.timedelta]]:
    """{name: [time from raised to first remediation]} for findings raised in [start, end) that
    have been remediated (one query: the first remediation per finding is an aggregate)."""
    key = _FINDING_GROUP[group]
    rows = (Finding.objects.filter(created_at__gte=start, created_at__lt=end, **{f"{key}__isnull": False})
            .annotate(remediated_at=Min("responses__created_at",
                                        filter=Q(responses__status_to__in=REMEDIATION_STATUSES)))
            .filter(remediated_at__isnull=False)
            .values_list(key, "created_at", "remediated_at"))
    out: dict[str, list[dt.timedelta]] = defaultdict(list)
    for name, raised, remediated in rows:
        out[name].append(remediated - raised)
    return dict(out)


def reopened_counts(group: str, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """{name: findings re-opened in [start, end)} (moved back to open after being remediated,
    accepted or closed); by reviewer, the person who re-opened it."""
    key = _REOPEN_GROUP[group]
    rows = (FindingResponse.objects.filter(
        created_at__gte=start, created_at__lt=end, status_to=FindingStatus.OPEN,
        status_from__in=_RESOLVED, **{f"{key}__isnull": False})
        .values(key).annotate(n=Count("finding", distinct=True)).order_by())
    return {row[key]: row["n"] for row in rows}


def finding_on_version_by(version_ref: OuterRef, at_ref: OuterRef) -> Exists:
    """An Exists() for "a finding was raised on this version at or before this moment", to
    annotate decisions and requests with (the rubber-stamp measure)."""
    return Exists(Finding.objects.filter(version=version_ref, created_at__lte=at_ref))
