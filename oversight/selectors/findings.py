"""Findings: the ones a user may see, their threads, and the ones blocking a promotion."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from common.errors import NotFound
from governance import permissions as perms
from oversight.choices import BLOCKING_SEVERITIES, UNRESOLVED_FINDING_STATUSES
from oversight.models import Finding, FindingResponse


def open_blocking_findings(model, version=None) -> QuerySet[Finding]:
    """Unresolved (open, or remediated but not yet closed by a validator) high and critical
    findings on the model as a whole, or on `version` when given. They block promotion."""
    qs = Finding.objects.filter(
        model=model, status__in=UNRESOLVED_FINDING_STATUSES, severity__in=BLOCKING_SEVERITIES,
    ).select_related("owner", "version")
    if version is not None:
        qs = qs.filter(Q(version__isnull=True) | Q(version=version))
    return qs


def findings_for_version(version) -> QuerySet[Finding]:
    """Every finding on `version`'s model as a whole or on `version` itself, open and closed,
    newest first (the documentation pack lists them)."""
    return (
        Finding.objects.filter(Q(version__isnull=True) | Q(version=version), model=version.model_id)
        .select_related("owner", "opened_by", "version")
        .order_by("-created_at", "-id")
    )


def open_blocking_findings_for_models(model_ids: list[int]) -> list[Finding]:
    """Unresolved high and critical findings on any of the models (on the model as a whole or
    one of its versions), in one query: callers pick a version's own in Python."""
    return list(Finding.objects.filter(
        model_id__in=model_ids, status__in=UNRESOLVED_FINDING_STATUSES,
        severity__in=BLOCKING_SEVERITIES,
    ).order_by("-created_at", "-id"))


def finding_list_for_user(user) -> QuerySet[Finding]:
    qs = Finding.objects.select_related(
        "model", "version__model", "owner", "opened_by", "document"
    ).order_by("-created_at", "-id")
    if not perms.can_read_everything(user):
        qs = qs.filter(model__team_id__in=user.team_ids)
    return qs


def finding_get_for_user(user, pk: int | str) -> Finding:
    found = finding_list_for_user(user).filter(pk=pk).first() if str(pk).isdigit() else None
    if found is None:
        raise NotFound(f"No finding {pk} that you can see.")
    return found


def finding_thread(finding: Finding) -> QuerySet[FindingResponse]:
    return finding.responses.select_related("author").order_by("created_at", "id")
