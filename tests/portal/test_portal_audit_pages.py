"""Audit log page: filters, chain verification status, dashboard."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_audit_log_filters_by_action_and_model(web_for, registry):
    web = web_for("auditor")
    html = web.get("/audit/?action=registry.dataset.registered").content.decode()
    assert "registry.dataset.registered" in html
    assert "<code>registry.version.registered</code>" not in html
    html = web.get("/audit/?model_name=credit-challenger").content.decode()
    assert "credit-challenger@1" in html and "fraud-score" not in html


def test_audit_log_date_range_error_is_next_to_the_field(web_for, registry):
    html = web_for("auditor").get("/audit/?since=2026-02-02&until=2026-01-01").content.decode()
    assert "The end date must not be before the start date." in html
    assert 'id="id_until-error"' in html


def test_audit_log_query_count_does_not_grow_with_rows(web_for, registry, personas):
    web = web_for("auditor")
    with CaptureQueriesContext(connection) as ctx:
        web.get("/audit/?page_size=5")
    with CaptureQueriesContext(connection) as ctx2:
        web.get("/audit/?page_size=100")
    assert len(ctx.captured_queries) == len(ctx2.captured_queries)


def test_chain_verification_reports_an_intact_chain(web_for, registry):
    response = web_for("auditor").get("/audit/verify/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Audit log intact." in html
    assert f"All {AuditEvent.objects.count()} events checked" in html
    assert "<html" not in html  # an htmx fragment, not a page


def test_chain_verification_reports_a_tampered_event(web_for, registry):
    if connection.vendor == "sqlite":
        drop = "DROP TRIGGER IF EXISTS governance_auditevent_no_update"
    else:
        drop = "ALTER TABLE governance_auditevent DISABLE TRIGGER USER"
    with connection.cursor() as cur:
        cur.execute(drop)
        cur.execute("UPDATE governance_auditevent SET object_repr = 'forged' WHERE seq = 3")
    html = web_for("auditor").get("/audit/verify/").content.decode()
    assert "Audit log broken at event #3" in html


def test_dashboard_counts_link_to_the_filtered_inventory(web_for, registry):
    html = web_for("validator").get("/").content.decode()
    assert 'href="/models/?review_overdue=true"' in html
    assert 'href="/models/?risk_tier=unassessed&amp;stage=development">3</a>' in html


def test_dashboard_matrix_counts_each_model_once_per_tier_and_stage(web_for, registry, personas):
    from django.db import transaction

    from registry import services as registry_services
    from registry.models import RegisteredModel
    from tests import factories

    RegisteredModel.objects.filter(name="fraud-score").update(risk_tier=1)
    eng = personas["engineer"]
    factories.version(eng, registry["base"])
    factories.version(eng, registry["base"])
    with transaction.atomic():
        registry_services.set_stage(version=registry["v1"], stage="staging", actor=eng, reason="t")
    html = web_for("validator").get("/").content.decode()
    link = 'href="/models/?risk_tier={}{}">{}</a>'
    assert link.format(1, "", 1) in html
    assert link.format(1, "&amp;stage=development", 1) in html
    assert link.format(1, "&amp;stage=staging", 0) in html
    assert link.format("unassessed", "", 2) in html
    assert link.format("unassessed", "&amp;stage=development", 2) in html
    assert link.format("unassessed", "&amp;stage=staging", 1) in html
    assert link.format("unassessed", "&amp;stage=production", 0) in html
    assert link.format(2, "", 0) in html


def test_engineer_reads_only_the_events_of_their_teams_models(web_for, registry):
    html = web_for("engineer").get("/audit/?model_name=fraud-score").content.decode()
    assert "fraud-score@1" not in html
    assert "credit-default@1" in web_for("engineer").get("/audit/").content.decode()


def test_export_links_carry_the_filters_and_download_with_the_session(web_for, registry):
    web = web_for("auditor")
    html = web.get("/audit/?action=registry.version.registered&model_name=credit-default").content.decode()
    link = "/api/v1/audit-events/export/?action=registry.version.registered&amp;model=credit-default&amp;format=csv"
    assert link in html
    response = web.get(link.replace("&amp;", "&"))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "credit-default@1" in body and "fraud-score" not in body


def test_audit_page_shows_the_latest_checkpoint_and_each_events_seal(web_for, registry):
    from django.db import transaction

    from governance import audit
    from governance.auditlog.sealer import seal

    web = web_for("auditor")
    html = web.get("/audit/").content.decode()
    assert "No checkpoint yet" in html and "sealed in checkpoint" not in html
    cp = seal().checkpoint
    with transaction.atomic():
        audit.record(action="governance.team.created", object_type="test.late", object_repr="late")
    html = web.get("/audit/?page_size=200").content.decode()
    assert cp.root_hash in html and f"1–{cp.tree_size}" in html
    assert '<span class="badge ok">valid</span>' in html
    assert html.count("sealed in checkpoint 1") == cp.tree_size
    assert html.count("awaiting seal") == 1  # the event written after the seal


def test_audit_page_says_when_a_checkpoint_signature_is_not_valid(web_for, registry):
    from governance.auditlog.sealer import seal

    cp = seal().checkpoint
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("DROP TRIGGER IF EXISTS governance_auditcheckpoint_no_update")
        else:
            cur.execute("ALTER TABLE governance_auditcheckpoint DISABLE TRIGGER USER")
        cur.execute("UPDATE governance_auditcheckpoint SET root_hash = %s WHERE id = %s",
                    ["ab" * 32, cp.pk])
    html = web_for("auditor").get("/audit/").content.decode()
    assert "NOT VALID" in html


def test_the_verify_button_is_offered_to_the_roles_that_may_run_it(web_for):
    assert web_for("engineer").get("/audit/verify/").status_code == 403
    page = web_for("engineer").get("/audit/").content.decode()
    assert 'data-testid="verify-chain"' not in page and "tools/gatehouse_verify.py" in page
    assert 'data-testid="verify-chain"' in web_for("validator").get("/audit/").content.decode()
