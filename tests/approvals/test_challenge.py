"""Effective challenge: on a small known data set the figures equal the hand-computed ones, and
the CSV says what the page says."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re

import pytest
from django.test import Client
from django.utils import timezone

from approvals import challenge, services
from approvals.models import Decision, PromotionRequest
from oversight.models import Finding, FindingResponse
from oversight.services import findings as finding_services

PERIOD = "?start=2026-01-01&end=2026-01-31"


def at(month: int, day: int, hour: int = 0) -> dt.datetime:
    year = 2025 if month == 12 else 2026
    return timezone.make_aware(dt.datetime(year, month, day, hour))


@contextlib.contextmanager
def clock(when: dt.datetime):
    """Decisions are append-only (no UPDATE of created_at): take them at `when` instead."""
    real = timezone.now
    timezone.now = lambda: when
    try:
        yield
    finally:
        timezone.now = real


def _promote(personas, version, who, decision, comment, opened, decided):
    req = services.promotion_request_open(actor=personas["engineer"], version=version,
                                          target_stage="staging", justification="j")
    PromotionRequest.objects.filter(pk=req.pk).update(created_at=opened)
    with clock(decided):
        services.promotion_decide(actor=personas[who], request_id=req.pk, decision=decision,
                                  role="validator", comment=comment, now=decided)
    assert Decision.objects.get(request=req).created_at == decided
    req.refresh_from_db()
    assert req.approved_at == (decided if decision == "approve" else None)
    return req


def _finding(personas, who, model, severity, created, version=None):
    f = finding_services.finding_open(actor=personas[who], model=model, title=f"{severity} issue",
                                      severity=severity, version=version)
    Finding.objects.filter(pk=f.pk).update(created_at=created)
    return f


def _move(personas, who, finding, status, when):
    finding_services.finding_transition(actor=personas[who], finding=finding, to_status=status,
                                        note="n")
    FindingResponse.objects.filter(finding=finding, status_to=status).update(created_at=when)


@pytest.fixture
def known(personas, make_ready):
    """Three staging requests and four findings on credit-default (see the expected figures)."""
    v1, v2, v3 = (make_ready(tier=1) for _ in range(3))
    model = v1.model
    # R1: validator approves v1 without a comment, 2 days after it opened (no finding by then).
    _promote(personas, v1, "validator", "approve", "", at(1, 2), at(1, 4))
    # R2: validator2 approves v2 without a comment, 1.5 days in, after a finding on v2.
    _promote(personas, v2, "validator2", "approve", "", at(1, 21), at(1, 22, 12))
    # R3: validator rejects v3 after 1 day.
    _promote(personas, v3, "validator", "reject", "Not enough testing", at(1, 24), at(1, 25))
    f1 = _finding(personas, "validator", model, "high", at(1, 5, 10), version=v1)
    _move(personas, "owner", f1, "remediated", at(1, 7, 10))  # 2 days to remediation
    _move(personas, "validator", f1, "open", at(1, 8))  # re-opened by the validator
    f2 = _finding(personas, "validator", model, "low", at(1, 10))
    _move(personas, "validator", f2, "closed", at(1, 14))  # 4 days (closed counts)
    _finding(personas, "validator2", model, "medium", at(1, 20), version=v2)
    _finding(personas, "validator", model, "critical", at(12, 20))  # before the period
    return model


EXPECTED_VALIDATORS = {
    #            validations findings per_val  high  low  medium critical remed median_rem approvals silent share review reopened
    "validator": [2, 2, 1.0, 0.5, 0.5, 0.0, 0.0, 2, 3.0, 1, 1, 1.0, 1.5, 1],
    "validator2": [1, 1, 1.0, 0.0, 0.0, 1.0, 0.0, 0, None, 1, 0, 0.0, 1.5, 0],
}
EXPECTED_MODEL = [3, 3, 1.0, 0.333, 0.333, 0.333, 0.0, 2, 3.0, 2, 1, 0.5, 1.75, 1]


def _figures(r: challenge.ChallengeRow) -> list:
    return [r.validations, r.findings_total, r.findings_per_validation,
            r.severity_share("high"), r.severity_share("low"), r.severity_share("medium"),
            r.severity_share("critical"), r.remediated, r.median_days_to_remediation,
            r.approvals, r.silent_approvals, r.silent_share, r.median_review_days, r.reopened]


def test_figures_equal_the_hand_computed_numbers(known):
    data = challenge.report(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert {r.name: _figures(r) for r in data["validators"]} == EXPECTED_VALIDATORS
    [model_row] = data["models"]
    assert model_row.name == known.name
    assert _figures(model_row) == EXPECTED_MODEL


def test_a_period_without_the_events_is_empty(known):
    data = challenge.report(dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert data["validators"] == [] and data["models"] == []
    december = challenge.report(dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert [(r.name, r.findings) for r in december["validators"]] == [("validator", {"critical": 1})]


def _client(personas, name):
    client = Client()
    client.force_login(personas[name])
    return client


def _page_cells(html: str) -> dict[str, dict[str, str]]:
    cells: dict[str, dict[str, str]] = {}
    for table in ("challenge-validators", "challenge-models"):
        body = html.split(f'data-testid="{table}"', 1)[1].split("</table>", 1)[0]
        for name, row in re.findall(r'data-name="([^"]+)">(.*?)</tr>', body, re.S):
            cells[f"{table}:{name}"] = {
                k: re.sub(r"<[^>]+>", "", v).strip()
                for k, v in re.findall(r'data-cell="([\w-]+)">(.*?)</(?:td|span)>', row, re.S)}
    return cells


def test_page_and_csv_show_the_same_figures(known, personas, django_assert_max_num_queries):
    client = _client(personas, "auditor")
    with django_assert_max_num_queries(20):
        page = client.get("/challenge/" + PERIOD)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/challenge.csv?start=2026-01-01&amp;end=2026-01-31"' in html
    cells = _page_cells(html)
    response = client.get("/challenge.csv" + PERIOD)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["period", "2026-01-01", "2026-01-31"]
    header = rows[1]
    assert header == challenge.CSV_HEADER
    by_name = {(r[0], r[1]): dict(zip(header, r, strict=True)) for r in rows[2:]}
    assert set(by_name) == {("validator", "validator"), ("validator", "validator2"),
                            ("model", known.name)}
    v1 = by_name[("validator", "validator")]
    assert (v1["validations"], v1["findings_raised"], v1["findings_per_validation"]) == ("2", "2", "1.0")
    assert (v1["median_days_to_remediation"], v1["median_review_days"], v1["reopened_findings"]) == (
        "3.0", "1.5", "1")
    assert v1["share_approved_without_comment_or_finding"] == "1.0"
    m = by_name[("model", known.name)]
    assert (m["share_high"], m["share_approved_without_comment_or_finding"], m["median_review_days"]) == (
        "0.333", "0.5", "1.75")
    # The page shows the same figures.
    for (scope, name), row in by_name.items():
        shown = cells[f"challenge-{scope}s:{name}"]
        assert shown["validations"] == row["validations"]
        assert shown["findings"] == row["findings_raised"]
        assert shown["per-validation"] == (row["findings_per_validation"] or "—")
        assert shown["remediated"] == row["remediated"]
        assert shown["median-remediation"] == (row["median_days_to_remediation"] or "—")
        assert shown["approvals"] == row["approvals"]
        assert shown["median-review"] == (row["median_review_days"] or "—")
        assert shown["reopened"] == row["reopened_findings"]
        if row["approvals"] != "0":
            pct = round(float(row["share_approved_without_comment_or_finding"]) * 100)
            assert shown["silent"] == f"{row['approved_without_comment_or_finding']} ({pct}%)"
        for sev in challenge.SEVERITIES:
            share = float(row[f"share_{sev}"] or 0)
            if share:
                assert f"({round(share * 100)}%)" in shown[f"share-{sev}"]


def test_who_may_see_it(known, personas):
    for name in ("validator", "compliance", "auditor", "admin_user"):
        assert _client(personas, name).get("/challenge/" + PERIOD).status_code == 200, name
    for name in ("engineer", "owner", "business"):
        response = _client(personas, name).get("/challenge/" + PERIOD)
        assert response.status_code == 403, name
        assert "Only validators, compliance, auditors and admins" in response.content.decode()
        assert _client(personas, name).get("/challenge.csv" + PERIOD).status_code == 403


def test_bad_period_is_refused_naming_the_field(known, personas):
    client = _client(personas, "auditor")
    response = client.get("/challenge/?start=2026-02-01&end=2026-01-01")
    assert response.status_code == 400 and "start must be on or before end" in response.content.decode()
    response = client.get("/challenge.csv?start=yesterday")
    assert response.status_code == 400
    assert "start must be a date" in response.content.decode()


@pytest.mark.parametrize("query", ["?end=9999-12-31", "?end=0001-01-01", "?start=0001-01-01",
                                   "?start=2026-01-01&end=9999-12-31"])
def test_a_date_out_of_range_is_refused_naming_the_field_and_the_rule(known, personas, query):
    client = _client(personas, "auditor")
    field = "end" if "end=" in query else "start"
    latest = (timezone.localdate() + dt.timedelta(days=366)).isoformat()
    for path in ("/challenge/", "/challenge.csv"):
        response = client.get(path + query)
        assert response.status_code == 400, (path, query)
        assert f"{field} must be between 1900-01-01 and {latest}" in response.content.decode()


def test_the_outermost_dates_allowed_still_give_a_report(known, personas):
    latest = (timezone.localdate() + dt.timedelta(days=366)).isoformat()
    response = _client(personas, "auditor").get(f"/challenge.csv?start=1900-01-01&end={latest}")
    assert response.status_code == 200
    assert next(csv.reader(io.StringIO(response.content.decode()))) == ["period", "1900-01-01", latest]
