"""The approvals inbox shows each request's gate status (ready, or blocked: which gates) from the
judged report it already holds, so a page of requests costs no query per row."""

from __future__ import annotations

import re

import pytest

from approvals import services

pytestmark = pytest.mark.django_db


def _open(personas, version):
    return services.promotion_request_open(actor=personas["engineer"], version=version,
                                           target_stage="production", justification="Better AUC.")


def _row(page: str, pk: int) -> str:
    match = re.search(rf'<tr><td><a href="/promotions/{pk}/">.*?</tr>', page, re.S)
    assert match, f"request #{pk} not in the inbox"
    return match.group(0)


def test_the_inbox_shows_ready_and_blocked_with_the_gates(personas, make_ready, client):
    ready = _open(personas, make_ready(tier=1))
    blocked = _open(personas, make_ready(tier=1, shap=False, performance=False))
    client.force_login(personas["validator"])
    page = client.get("/inbox/").content.decode()
    assert "ready" in _row(page, ready.pk) and "blocked" not in _row(page, ready.pk)
    row = _row(page, blocked.pk)
    assert "blocked" in row
    assert "Explainability (SHAP)" in row and "Code commit recorded" in row
    assert "Fairness" not in row  # only the gates that are not met


def test_the_inbox_costs_no_query_per_request(personas, make_ready, client,
                                              django_assert_max_num_queries):
    for _ in range(2):
        _open(personas, make_ready(tier=1, shap=False))
    client.force_login(personas["validator"])
    client.get("/inbox/")
    with django_assert_max_num_queries(20) as few:
        client.get("/inbox/")
    for _ in range(4):
        _open(personas, make_ready(tier=1, shap=False))
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/inbox/").content.decode()
    assert page.count('data-testid="gate-status"') == 6


def test_the_inbox_names_roles_and_decisions_as_people_say_them(personas, make_ready, client):
    request = _open(personas, make_ready(tier=1))
    services.promotion_decide(actor=personas["validator"], request_id=request.pk,
                              decision="approve", role="validator", comment="Validated.")
    client.force_login(personas["compliance"])
    row = _row(client.get("/inbox/").content.decode(), request.pk)
    assert "Validator (model risk officer): Approve" in row
    assert "Business approver" in row and "business_approver" not in row
