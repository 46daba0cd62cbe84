"""Effective challenge: the page for the head of model risk (period picker) and the same
figures as CSV."""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from approvals import challenge
from common.errors import Forbidden, ValidationFailed
from common.portal import portal_view
from governance import permissions as perms


def _period(request: HttpRequest):
    return challenge.parse_period(request.GET.get("start"), request.GET.get("end"))


def _allowed(request: HttpRequest) -> None:
    refusal = perms.explain_cannot_view_challenge(request.user)
    if refusal:
        raise Forbidden(refusal)


@portal_view
def challenge_page(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    error = ""
    try:
        start, end = _period(request)
    except ValidationFailed as exc:
        error = exc.detail
        start, end = challenge.parse_period(None, None)
    data = challenge.report(start, end)
    return render(request, "approvals/challenge.html", {
        "data": data, "error": error, "severities": challenge.SEVERITIES,
    }, status=400 if error else 200)


@portal_view
def challenge_csv(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    start, end = _period(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="effective-challenge-{start.isoformat()}-{end.isoformat()}.csv"')
    writer = csv.writer(response)
    for row in challenge.csv_rows(challenge.report(start, end)):
        writer.writerow(row)
    return response
