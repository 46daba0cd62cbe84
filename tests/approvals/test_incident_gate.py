"""An open serious incident blocks promotion of every version of its model (EU AI Act Art. 73),
whatever the tier policy says; a non-serious one does not; closing it lets held approvals
execute (it is not evidence the approvals are bound to, so they are not revoked)."""

import datetime as dt

import pytest
from django.utils import timezone

from approvals import gates, services
from common.errors import Conflict
from governance import selectors as gov_selectors
from oversight import services as ov_services


def _incident(personas, model, *, serious=True):
    known = timezone.now() - dt.timedelta(hours=2)
    return ov_services.incident_report(
        actor=personas["engineer"], model=model, title="Applicants wrongly refused",
        description="A cut-off error refused 40 applicants.", occurred_at=known - dt.timedelta(hours=1),
        became_known_at=known, affected_persons=40, serious=serious,
        seriousness="serious-harm" if serious else None,
    )


def _close(personas, incident):
    for status, kw in (("investigating", {}),
                       ("reported_to_authority", {"authority_reference": "MSA-2026-4"}),
                       ("closed", {"resolution": "Cut-off corrected; applicants re-scored."})):
        ov_services.incident_transition(actor=personas["compliance"], incident=incident,
                                        to_status=status, **kw)


def _item(report):
    return next(i for i in report.items if i["key"] == "no_open_serious_incident")


def test_open_serious_incident_blocks_with_its_reason(personas, make_ready):
    version = make_ready(tier=1)
    incident = _incident(personas, version.model)
    report = gates.evaluate(version, "production")
    item = _item(report)
    assert not report.passed and item["met"] is False
    assert f"#{incident.pk} Applicants wrongly refused" in item["detail"]
    assert item["incident_ids"] == [incident.pk]
    assert "open_serious_incidents" not in report.evidence  # not bound to the approvals


def test_the_gate_applies_whatever_the_policy_and_policies_cannot_name_it(personas, make_ready):
    version = make_ready(tier=3)
    _incident(personas, version.model)
    assert _item(gates.evaluate(version, "staging"))["met"] is False
    assert "no_open_serious_incident" not in gates.policy_evidence_labels()
    assert gates.EVIDENCE["no_open_serious_incident"].always


def test_non_serious_incident_does_not_block(personas, make_ready):
    version = make_ready(tier=1)
    _incident(personas, version.model, serious=False)
    report = gates.evaluate(version, "production")
    assert _item(report)["met"] is True and report.passed


def test_closed_incident_unblocks_and_held_approvals_execute(personas, make_ready):
    version = make_ready(tier=1)
    incident = _incident(personas, version.model)
    req = services.promotion_request_open(actor=personas["engineer"], version=version,
                                          target_stage="production", justification="Better AUC.")
    assert req.gate_report["passed"] is False
    for who, role in (("validator", "validator"), ("compliance", "compliance"),
                      ("business", "business_approver")):
        services.promotion_decide(actor=personas[who], request_id=req.pk, decision="approve",
                                  role=role, comment="ok")
    req.refresh_from_db()
    assert req.state == "approved" and "open serious incident" in req.state_reason
    with pytest.raises(Conflict):
        services.promotion_execute(actor=personas["engineer"], request_id=req.pk)
    _close(personas, incident)
    services.promotion_execute(actor=personas["engineer"], request_id=req.pk)
    req.refresh_from_db()
    version.refresh_from_db()
    assert (req.state, version.stage) == ("executed", "production")


def test_tier_policy_evidence_keys_are_unchanged(db):
    policy = gov_selectors.policy_for_tier(1)
    assert "no_open_serious_incident" not in policy.stage_rules("production")["evidence"]


def test_the_owning_team_cannot_lift_its_own_block(personas, make_ready):
    from common.errors import Forbidden

    version = make_ready(tier=1)
    incident = _incident(personas, version.model)
    ov_services.incident_transition(actor=personas["engineer"], incident=incident,
                                    to_status="investigating")
    with pytest.raises(Forbidden):
        ov_services.incident_transition(actor=personas["owner"], incident=incident,
                                        to_status="reported_to_authority", authority_reference="MSA-1")
    assert _item(gates.evaluate(version, "production"))["met"] is False
    ov_services.incident_transition(actor=personas["compliance"], incident=incident,
                                    to_status="reported_to_authority", authority_reference="MSA-1")
    ov_services.incident_transition(actor=personas["compliance"], incident=incident,
                                    to_status="closed", resolution="Cut-off corrected.")
    assert _item(gates.evaluate(version, "production"))["met"] is True


def test_an_incident_upgraded_by_compliance_blocks_and_downgraded_unblocks(personas, make_ready):
    version = make_ready(tier=1)
    incident = _incident(personas, version.model, serious=False)
    assert _item(gates.evaluate(version, "production"))["met"] is True
    ov_services.incident_reclassify(actor=personas["compliance"], incident=incident, serious=True,
                                    seriousness="death", reason="An applicant died.")
    item = _item(gates.evaluate(version, "production"))
    assert item["met"] is False and item["incident_ids"] == [incident.pk]
    ov_services.incident_reclassify(actor=personas["validator"], incident=incident, serious=False,
                                    seriousness=None, reason="Unrelated to the model after all.")
    assert _item(gates.evaluate(version, "production"))["met"] is True
