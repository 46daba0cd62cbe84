"""When the policy asks (`execution: "separate"`), the final approval leaves the request approved
but not executed; a permitted person executes it (portal button or API) and the move is theirs.
By default execution stays automatic, by the system."""

from __future__ import annotations

import pytest

from approvals import selectors, services
from common.errors import Forbidden
from governance import selectors as gov_selectors
from governance import services as gov_services
from governance.models import AuditEvent
from governance.policy import default_rules, rules_errors

pytestmark = pytest.mark.django_db

TIER1 = [("validator", "validator"), ("compliance", "compliance"), ("business", "business_approver")]


def _separate(personas, **where):
    rules = dict(gov_selectors.policy_for_tier(1).rules)
    if where.get("stage"):
        rules["stages"] = {**rules["stages"], "production": {
            **rules["stages"]["production"], "execution": "separate"}}
    else:
        rules["execution"] = "separate"
    gov_services.tier_policy_publish(actor=personas["admin_user"], tier=1, rules=rules)


def _approved(personas, version):
    req = services.promotion_request_open(actor=personas["engineer"], version=version,
                                          target_stage="production", justification="Better AUC.")
    for who, role in TIER1:
        req = services.promotion_decide(actor=personas[who], request_id=req.pk,
                                        decision="approve", role=role, comment="ok")
    return req


@pytest.mark.parametrize("stage", [False, True])
def test_final_approval_leaves_it_approved_not_executed(personas, make_ready, stage):
    _separate(personas, stage=stage)
    version = make_ready(tier=1)
    req = _approved(personas, version)
    version.refresh_from_db()
    assert (req.state, version.stage) == ("approved", "development")
    assert "separate step" in req.state_reason
    assert not AuditEvent.objects.filter(action="approvals.promotion.executed").exists()


def test_execute_is_attributed_to_the_person_who_executes(personas, make_ready):
    _separate(personas)
    version = make_ready(tier=1)
    req = _approved(personas, version)
    req = services.promotion_execute(actor=personas["owner"], request_id=req.pk)
    version.refresh_from_db()
    assert (req.state, version.stage) == ("executed", "production")
    executed = AuditEvent.objects.get(action="approvals.promotion.executed", object_id=str(req.pk))
    assert executed.actor_name == "owner" and executed.payload["executed_by"] == "owner"
    moved = AuditEvent.objects.get(action="registry.version.stage_changed",
                                   payload__promotion_request=req.pk)
    assert moved.actor_name == "owner"


def test_only_permitted_people_execute(personas, make_ready):
    _separate(personas)
    req = _approved(personas, make_ready(tier=1))
    for who in ("auditor", "validator", "business"):
        with pytest.raises(Forbidden):
            services.promotion_execute(actor=personas[who], request_id=req.pk)


def test_an_auditor_listed_as_a_developer_cannot_execute(personas, make_ready, client_for):
    _separate(personas)
    req = _approved(personas, make_ready(tier=1))
    req.model.developers.add(personas["auditor"])
    assert selectors.allowed_actions(personas["auditor"], req)["execute"] is False  # no button
    with pytest.raises(Forbidden, match="Auditors have read-only access"):
        services.promotion_execute(actor=personas["auditor"], request_id=req.pk)
    refused = client_for("auditor").post(f"/api/v1/promotions/{req.pk}/execute/")
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    req.refresh_from_db()
    assert req.state == "approved"
    assert not AuditEvent.objects.filter(action="approvals.promotion.executed").exists()


def test_default_execution_stays_automatic_by_the_system(personas, make_ready):
    req = _approved(personas, make_ready(tier=1))
    assert req.state == "executed"
    executed = AuditEvent.objects.get(action="approvals.promotion.executed", object_id=str(req.pk))
    assert executed.actor_name == "system"


def test_api_and_portal_execute(personas, make_ready, client_for, client):
    _separate(personas)
    req = _approved(personas, make_ready(tier=1))
    client.force_login(personas["owner"])
    page = client.get(f"/promotions/{req.pk}/").content.decode()
    assert 'data-testid="execute"' in page and "separate step" in page
    client.force_login(personas["auditor"])
    assert 'data-testid="execute"' not in client.get(f"/promotions/{req.pk}/").content.decode()
    refused = client_for("auditor").post(f"/api/v1/promotions/{req.pk}/execute/")
    assert refused.status_code == 403
    done = client_for("engineer").post(f"/api/v1/promotions/{req.pk}/execute/")
    assert done.status_code == 200, done.content
    assert done.json()["state"] == "executed"
    executed = AuditEvent.objects.get(action="approvals.promotion.executed", object_id=str(req.pk))
    assert executed.actor_name == "engineer"


def test_policy_execution_must_be_automatic_or_separate():
    rules = default_rules(1)
    rules["execution"] = "manual"
    assert "execution" in rules_errors(rules)
    rules["execution"] = "separate"
    rules["stages"]["staging"]["execution"] = "later"
    assert "stages.staging.execution" in rules_errors(rules)
    rules["stages"]["staging"]["execution"] = "automatic"
    assert rules_errors(rules) == {}
