"""The audit trail reads as words: plain action names, role labels, before/after field by field
with the full record behind <details>, and a page per event."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.audit_display import payload_changes
from governance.models import AuditEvent
from registry import services as registry_services

pytestmark = pytest.mark.django_db


def _edit(personas, registry):
    registry_services.model_update(actor=personas["engineer"], model=registry["base"], changes={
        "intended_use": "Retail loan decisions in the EU.", "tags": ["credit", "retail"],
    })
    return AuditEvent.objects.filter(action="registry.model.updated").latest("seq")


def test_audit_log_shows_labels_roles_and_field_by_field_changes(web_for, personas, registry):
    event = _edit(personas, registry)
    html = web_for("auditor").get("/audit/?action=registry.model.updated").content.decode()
    assert ">Model updated<" in html
    assert "<code>registry.model.updated</code>" not in html
    assert "ML engineer" in html  # the actor's role, by its label
    assert 'data-testid="audit-diff"' in html
    assert "<th scope=\"row\">Intended use</th>" in html
    assert "<ins>Retail loan decisions in the EU.</ins>" in html
    assert "<ins>credit, retail</ins>" in html
    assert 'data-testid="audit-full-record"' in html and "<summary" in html
    assert "truncatechars" not in html and "…" not in html.split('data-testid="audit-events"')[1]
    assert f'href="/audit/{event.seq}/"' in html


def test_audit_event_page_has_the_whole_record(web_for, personas, registry):
    event = _edit(personas, registry)
    web = web_for("auditor")
    html = web.get(f"/audit/{event.seq}/").content.decode()
    assert f"Event {event.seq}: Model updated" in html
    assert "recorded as <code>registry.model.updated</code>" in html
    assert "engineer — ML engineer" in html
    assert "Intended use" in html and "&quot;intended_use&quot;" in html  # diff and the full JSON


def test_an_event_the_user_may_not_read_is_404(web_for, personas, registry):
    event = AuditEvent.objects.filter(model_name="fraud-score").first()
    assert web_for("engineer").get(f"/audit/{event.seq}/").status_code == 404
    assert web_for("auditor").get(f"/audit/{event.seq}/").status_code == 200


def test_role_labels_and_decisions_on_the_promotion_trail(web_for, personas, registry):
    from approvals import services as approvals
    from oversight import risk
    from oversight import services as ov_services

    ov_services.risk_assessment_create(actor=personas["owner"], model=registry["base"],
                                       answers={q.key: q.options[0][0] for q in risk.QUESTIONS})
    req = approvals.promotion_request_open(actor=personas["owner"], version=registry["v1"],
                                           target_stage="staging", justification="Try it.")
    html = web_for("auditor").get(f"/promotions/{req.pk}/").content.decode()
    assert "Promotion requested" in html
    assert "approvals.promotion.requested</td>" not in html
    assert "Model owner" in html


def test_audit_log_query_count_stays_flat_with_diffs(web_for, personas, registry):
    _edit(personas, registry)
    web = web_for("auditor")
    with CaptureQueriesContext(connection) as few:
        web.get("/audit/?page_size=3")
    with CaptureQueriesContext(connection) as many:
        web.get("/audit/?page_size=100")
    assert len(few.captured_queries) == len(many.captured_queries)


def test_payload_changes_walks_nested_objects_and_creations():
    rows = payload_changes({"before": {"a": 1, "n": {"x": 1, "y": 2}}, "after": {"a": 2, "n": {"x": 1, "y": 3}, "b": True}})
    assert [(r["field"], r["before"], r["after"], r["kind"]) for r in rows] == [
        ("A", "1", "2", "changed"), ("N › Y", "2", "3", "changed"), ("B", "—", "yes", "added"),
    ]
    created = payload_changes({"after": {"name": "x"}})
    assert created == [{"field": "Name", "key": "name", "before": "—", "after": "x", "kind": "added"}]
    assert payload_changes({"reason": "no before/after"}) == []


def test_roles_inside_the_record_read_as_labels_and_empty_values_are_left_out():
    from governance.audit_display import payload_details

    assert payload_details({"roles": ["business_approver", "model_owner"], "teams": ["credit"]}) \
        == [("Roles", "Business approver, Model owner"), ("Teams", "credit")]
    rows = payload_changes({"after": {"name": "m", "tags": [], "required_roles": ["validator"]}})
    assert [(r["field"], r["after"]) for r in rows] == [
        ("Name", "m"), ("Required roles", "Validator (model risk officer)")]
