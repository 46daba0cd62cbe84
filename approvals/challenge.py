"""Effective challenge (SR 11-7's demand on validation): per validator and per model over a
period, how hard the second line pushed back.

Definitions (shown on the page too):
- validations: promotion requests a validator decided on in the validator role in the period;
- findings raised: findings opened in the period (by that reviewer / on that model), their
  share by severity and findings per validation;
- time to remediation: from a finding raised in the period to its first move to remediated (or
  closed); the median over those remediated;
- approved without comment or finding: validator approvals (per model: promotion requests
  approved in the period) with no comment and no finding raised on that version up to the
  approval; the share of all approvals;
- median review time: from a request's opening to the validator's decision (per model: to the
  request's approval);
- re-opened: findings moved back to open after being remediated, accepted or closed.

Each figure is an aggregate query per grouping (oversight's for findings, these for decisions);
medians are taken over the values one query returns. The page and the CSV share `report`.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from approvals.models import Decision, PromotionRequest
from common.errors import ValidationFailed
from governance.choices import Role
from oversight.choices import Severity
from oversight.selectors import challenge as ov_challenge

DEFAULT_PERIOD_DAYS = 90
#: The dates the period picker accepts: nothing was governed before 1900, and a year past today
#: is as far as a period can usefully reach (and keeps date arithmetic far from year 1 / 9999).
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DAYS_AHEAD = 366
SEVERITIES = [s.value for s in Severity]


@dataclass
class ChallengeRow:
    """The figures for one validator (or reviewer) or one model over the period."""

    name: str
    validations: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    remediation: list[dt.timedelta] = field(default_factory=list)
    approvals: int = 0
    silent_approvals: int = 0
    review_times: list[dt.timedelta] = field(default_factory=list)
    reopened: int = 0

    @property
    def findings_total(self) -> int:
        return sum(self.findings.values())

    @property
    def findings_per_validation(self) -> float | None:
        return round(self.findings_total / self.validations, 2) if self.validations else None

    def severity_share(self, severity: str) -> float | None:
        total = self.findings_total
        return round(self.findings.get(severity, 0) / total, 3) if total else None

    @property
    def severity_shares(self) -> list[tuple[str, int, float | None]]:
        return [(s, self.findings.get(s, 0), self.severity_share(s)) for s in SEVERITIES]

    @property
    def remediated(self) -> int:
        return len(self.remediation)

    @property
    def median_days_to_remediation(self) -> float | None:
        return _median_days(self.remediation)

    @property
    def silent_share(self) -> float | None:
        return round(self.silent_approvals / self.approvals, 3) if self.approvals else None

    @property
    def median_review_days(self) -> float | None:
        return _median_days(self.review_times)


def _median_days(values: list[dt.timedelta]) -> float | None:
    if not values:
        return None
    return round(statistics.median(v.total_seconds() for v in values) / 86400, 2)


def parse_period(start: str | None, end: str | None, *, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The period picker's dates (inclusive, each from EARLIEST_DATE to LATEST_DAYS_AHEAD days
    after today); default: the last DEFAULT_PERIOD_DAYS days."""
    today = today or timezone.localdate()
    latest = today + dt.timedelta(days=LATEST_DAYS_AHEAD)
    errors: dict[str, list[str]] = {}
    parsed: dict[str, dt.date | None] = {}
    for name, raw in (("start", start), ("end", end)):
        try:
            parsed[name] = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            errors[name] = [f"{name} must be a date (YYYY-MM-DD)."]
            continue
        value = parsed[name]
        if value is not None and not EARLIEST_DATE <= value <= latest:
            errors[name] = [f"{name} must be between {EARLIEST_DATE.isoformat()} and "
                            f"{latest.isoformat()} ({LATEST_DAYS_AHEAD} days after today)."]
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(errors[first][0], errors=errors)
    end_date = parsed["end"] or today
    start_date = parsed["start"] or end_date - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start_date > end_date:
        msg = "start must be on or before end."
        raise ValidationFailed(msg, errors={"start": [msg]})
    return start_date, end_date


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    begin = timezone.make_aware(dt.datetime.combine(start, dt.time.min))
    finish = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    return begin, finish


def report(start: dt.date, end: dt.date) -> dict:
    """{"start", "end", "validators": [ChallengeRow], "models": [ChallengeRow]} for the period."""
    begin, finish = _bounds(start, end)
    validators: dict[str, ChallengeRow] = {}
    models: dict[str, ChallengeRow] = {}

    def row(table: dict[str, ChallengeRow], name: str) -> ChallengeRow:
        if name not in table:
            table[name] = ChallengeRow(name=name)
        return table[name]

    for group, table in (("reviewer", validators), ("model", models)):
        for name, counts in ov_challenge.findings_by_severity(group, begin, finish).items():
            row(table, name).findings = counts
        for name, times in ov_challenge.remediation_times(group, begin, finish).items():
            row(table, name).remediation = times
        for name, n in ov_challenge.reopened_counts(group, begin, finish).items():
            row(table, name).reopened = n

    in_period = Q(created_at__gte=begin, created_at__lt=finish)
    validator_decisions = Decision.objects.filter(in_period, role=Role.VALIDATOR)
    for r in (validator_decisions.values("approver__username")
              .annotate(n=Count("request", distinct=True)).order_by()):
        row(validators, r["approver__username"]).validations = r["n"]
    for r in (validator_decisions.values("request__model__name")
              .annotate(n=Count("request", distinct=True)).order_by()):
        row(models, r["request__model__name"]).validations = r["n"]

    # Validator decisions, each with "a finding on the version by then" (one query).
    decided = validator_decisions.annotate(
        found=ov_challenge.finding_on_version_by(OuterRef("request__version"), OuterRef("created_at")),
    ).values_list("approver__username", "decision", "comment", "found", "created_at",
                  "request__created_at")
    for name, decision, comment, found, at, opened in decided:
        r = row(validators, name)
        r.review_times.append(at - opened)
        if decision == "approve":
            r.approvals += 1
            r.silent_approvals += int(not (comment or "").strip() and not found)

    # Requests approved in the period, each with "any approval carried a comment" and "a
    # finding on the version by the approval" (one query).
    commented = Decision.objects.filter(request=OuterRef("pk"), decision="approve").exclude(
        comment__regex=r"^\s*$")
    approved = PromotionRequest.objects.filter(
        approved_at__gte=begin, approved_at__lt=finish,
    ).annotate(
        commented=Exists(commented),
        found=ov_challenge.finding_on_version_by(OuterRef("version"), OuterRef("approved_at")),
    ).values_list("model__name", "commented", "found", "created_at", "approved_at")
    for name, has_comment, found, opened, at in approved:
        r = row(models, name)
        r.approvals += 1
        r.silent_approvals += int(not has_comment and not found)
        r.review_times.append(at - opened)

    return {"start": start, "end": end,
            "validators": sorted(validators.values(), key=lambda r: r.name),
            "models": sorted(models.values(), key=lambda r: r.name)}


CSV_HEADER = [
    "scope", "name", "validations", "findings_raised", "findings_per_validation",
    *[f"share_{s}" for s in SEVERITIES], "remediated", "median_days_to_remediation",
    "approvals", "approved_without_comment_or_finding", "share_approved_without_comment_or_finding",
    "median_review_days", "reopened_findings",
]


def _cell(value) -> str:
    return "" if value is None else str(value)


def csv_rows(data: dict) -> list[list[str]]:
    """The report as CSV rows (header first): the same figures the page shows."""
    out = [["period", data["start"].isoformat(), data["end"].isoformat()], CSV_HEADER]
    for scope in ("validators", "models"):
        for r in data[scope]:
            out.append([_cell(v) for v in (
                scope[:-1], r.name, r.validations, r.findings_total, r.findings_per_validation,
                *[r.severity_share(s) for s in SEVERITIES], r.remediated,
                r.median_days_to_remediation, r.approvals, r.silent_approvals, r.silent_share,
                r.median_review_days, r.reopened)])
    return out
