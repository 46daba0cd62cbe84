"""Policy exceptions: the rules of asking, deciding, waiving and expiring."""

import datetime as dt

import pytest
from django.utils import timezone

from approvals import exceptions, gates, services
from approvals.models import ExceptionApproval, Notification, PolicyException
from common.errors import Conflict, Forbidden, ValidationFailed
from governance import selectors as gov_selectors
from governance import services as gov
from governance.choices import Role
from governance.models import AuditEvent
from oversight.services import risk as risk_services
from tests.governance.helpers import CREDIT_ANSWERS


def ask(personas, version, *, gate="shap", days=30, who="engineer", now=None):
    now = now or timezone.now()
    return exceptions.exception_request(
        actor=personas[who], version=version, gate=gate,
        reason="The SHAP runner cannot load this artifact format yet.",
        compensating_controls="Manual feature review by the validator; monthly drift job.",
        expires_at=now + dt.timedelta(days=days), now=now,
    )


def approve_all(personas, exc, now=None):
    # Tier 1: the policy names validator and compliance.
    exceptions.exception_decide(actor=personas["validator"], exception_id=exc.pk,
                                decision="approve", role="validator", now=now)
    exceptions.exception_decide(actor=personas["compliance"], exception_id=exc.pk,
                                decision="approve", role="compliance", now=now)
    exc.refresh_from_db()
    return exc


def shap_item(version, now):
    report = gates.evaluate(version, "production", now=now)
    return next(i for i in report.items if i["key"] == "shap"), report


def test_request_snapshots_policy_roles_and_audits(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    exc = ask(personas, version)
    assert exc.status == "requested"
    assert exc.approver_roles == ["validator", "compliance"]
    event = AuditEvent.objects.get(action="approvals.exception.requested")
    assert event.actor_name == "engineer"
    assert event.payload["after"]["gate"] == "shap"
    assert event.payload["after"]["max_days"] == 90
    notified = set(Notification.objects.filter(kind="exception_requested")
                   .values_list("user__username", flat=True))
    assert {"validator", "validator2", "compliance"} <= notified


def test_expiry_past_the_policy_maximum_is_refused_naming_field_and_rule(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    with pytest.raises(ValidationFailed) as caught:
        ask(personas, version, days=91)
    message = caught.value.errors["expires_at"][0]
    assert "at most 90 days (exception_max_days)" in message
    assert "tier 1 policy" in message
    ask(personas, version, days=90)  # exactly the maximum is allowed
    assert PolicyException.objects.count() == 1


def test_unknown_gate_is_refused_listing_the_gates(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    with pytest.raises(ValidationFailed) as caught:
        ask(personas, version, gate="vibes")
    message = caught.value.errors["gate"][0]
    assert "Unknown gate 'vibes'" in message
    for key in ("shap", "fairness", "documentation", "no_open_high_findings", "drift"):
        assert key in message
    # The EU AI Act's prohibited practices are never waived.
    with pytest.raises(ValidationFailed):
        ask(personas, version, gate="not_prohibited")
    assert not PolicyException.objects.exists()


@pytest.mark.parametrize("gate", ["risk_assessment", "not_prohibited", "no_open_serious_incident"])
def test_the_risk_assessment_and_the_always_applied_gates_cannot_be_waived(personas, make_ready, gate):
    version = make_ready(tier=1, shap=False)
    with pytest.raises(ValidationFailed) as caught:
        ask(personas, version, gate=gate)
    message = caught.value.errors["gate"][0]
    assert f"({gate}) cannot be waived by an exception" in message
    waivable = message.split("may waive one of: ")[1].rstrip(".").split(", ")
    assert waivable == exceptions.waivable_gates()
    assert {"shap", "fairness", "documentation"} <= set(waivable)
    assert not {"risk_assessment", "not_prohibited", "no_open_serious_incident"} & set(waivable)
    assert not PolicyException.objects.exists()


def test_an_approved_exception_row_never_waives_the_risk_assessment(personas, make_ready):
    # E.g. one approved before the rule: the risk assessment feeds Art. 5, so it stays required.
    version = make_ready(tier=1)
    assessment = version.model.risk_assessments.order_by("-pk").first()
    later = assessment.expires_at + dt.timedelta(days=1)
    item = next(i for i in gates.evaluate(version, "production", now=later).items
                if i["key"] == "risk_assessment")
    assert item["met"] is False
    exc = ask(personas, version, now=later - dt.timedelta(days=2))
    PolicyException.objects.filter(pk=exc.pk).update(
        gate="risk_assessment", status="approved", approved_at=later - dt.timedelta(days=1))
    report = gates.evaluate(version, "production", now=later)
    item = next(i for i in report.items if i["key"] == "risk_assessment")
    assert item["met"] is False and "waived_by" not in item
    assert report.passed is False and "exceptions" not in report.evidence


def test_always_applied_gates_are_never_waivable():
    for key, kind in gates.EVIDENCE.items():
        if kind.always or not kind.policy_may_require:
            assert kind.waivable is False, key


def test_reason_and_compensating_controls_are_required(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    with pytest.raises(ValidationFailed) as caught:
        exceptions.exception_request(actor=personas["engineer"], version=version, gate="shap",
                                     reason=" ", compensating_controls="",
                                     expires_at=timezone.now() + dt.timedelta(days=3))
    assert set(caught.value.errors) == {"reason", "compensating_controls"}


def test_only_owner_and_developers_may_ask(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    with pytest.raises(Forbidden):
        ask(personas, version, who="validator")
    with pytest.raises(Forbidden, match="Auditors"):
        ask(personas, version, who="auditor")


def test_one_live_exception_per_version_and_gate(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    ask(personas, version)
    with pytest.raises(Conflict, match="already requested"):
        ask(personas, version)


def test_requester_cannot_approve_their_own_exception(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    # A model owner who is also a validator asks, then tries to approve as validator.
    lead = gov.user_create(username="lead", roles=[Role.MODEL_OWNER, Role.VALIDATOR],
                           teams=["credit"], password="pw-lead")
    version.model.owner = lead
    version.model.save(update_fields=["owner"])
    version.refresh_from_db()
    exc = exceptions.exception_request(
        actor=lead, version=version, gate="shap", reason="r", compensating_controls="c",
        expires_at=timezone.now() + dt.timedelta(days=10))
    with pytest.raises(Forbidden, match="nobody decides on a policy exception they requested"):
        exceptions.exception_decide(actor=lead, exception_id=exc.pk, decision="approve",
                                    role="validator")
    assert not ExceptionApproval.objects.exists()
    exc.refresh_from_db()
    assert exc.status == "requested"


def test_the_person_who_registered_the_version_cannot_decide_its_exception(personas, make_ready, client):
    version = make_ready(tier=1, shap=False)
    # A validator who registered the version on the team's behalf (not a developer of the model).
    registrant = gov.user_create(username="registrant", roles=[Role.VALIDATOR], teams=["credit"],
                                 password="pw-registrant")
    type(version).objects.filter(pk=version.pk).update(created_by=registrant)
    exc = ask(personas, version)
    for decision in ("approve", "reject"):
        with pytest.raises(Forbidden, match="for a model version they registered"):
            exceptions.exception_decide(actor=registrant, exception_id=exc.pk, decision=decision,
                                        role="validator", comment="no")
    assert not ExceptionApproval.objects.exists()
    client.force_login(registrant)
    page = client.get(f"/exceptions/{exc.pk}/").content.decode()
    assert "for a model version they registered" in page
    assert "exception-decide-form" not in page
    refused = client.post(f"/exceptions/{exc.pk}/decide/",
                          {"decision": "approve", "role": "validator", "comment": ""})
    assert refused.status_code == 403
    exc = approve_all(personas, exc)  # another validator may
    assert exc.status == "approved"


def test_developers_and_other_roles_cannot_approve(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    exc = ask(personas, version)
    with pytest.raises(Forbidden, match="does not approve policy exceptions"):
        exceptions.exception_decide(actor=personas["business"], exception_id=exc.pk,
                                    decision="approve", role="business_approver")
    with pytest.raises(Forbidden, match="Auditors"):
        exceptions.exception_decide(actor=personas["auditor"], exception_id=exc.pk,
                                    decision="approve", role="validator")


def test_every_named_role_must_approve_and_one_person_fills_one_role(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    exc = ask(personas, version)
    exceptions.exception_decide(actor=personas["validator"], exception_id=exc.pk,
                                decision="approve", role="validator")
    exc.refresh_from_db()
    assert exc.status == "requested"  # compliance has not approved yet
    with pytest.raises(Forbidden, match="already approved"):
        exceptions.exception_decide(actor=personas["validator2"], exception_id=exc.pk,
                                    decision="approve", role="validator")
    exc = approve_all_rest(personas, exc)
    assert exc.status == "approved" and exc.approved_at is not None
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="approvals.exception")
            .order_by("seq")] == ["approvals.exception.requested", "approvals.exception.decided",
                                  "approvals.exception.decided", "approvals.exception.approved"]


def approve_all_rest(personas, exc):
    exceptions.exception_decide(actor=personas["compliance"], exception_id=exc.pk,
                                decision="approve", role="compliance")
    exc.refresh_from_db()
    return exc


def test_a_rejection_needs_a_comment_and_closes_it(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    exc = ask(personas, version)
    with pytest.raises(ValidationFailed):
        exceptions.exception_decide(actor=personas["validator"], exception_id=exc.pk,
                                    decision="reject", role="validator")
    exceptions.exception_decide(actor=personas["validator"], exception_id=exc.pk,
                                decision="reject", role="validator", comment="Run SHAP.")
    exc.refresh_from_db()
    assert exc.status == "rejected"
    assert AuditEvent.objects.filter(action="approvals.exception.rejected").count() == 1


def test_approved_exception_waives_its_gate_in_the_readiness_checklist(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    now = timezone.now()
    item, report = shap_item(version, now)
    assert item["met"] is False and report.passed is False
    exc = approve_all(personas, ask(personas, version, days=30, now=now), now=now)
    later = now + dt.timedelta(minutes=1)
    item, report = shap_item(version, later)
    assert item["met"] is True
    assert item["waived_by"] == exc.pk
    assert item["detail"].startswith(f"Waived by exception #{exc.pk} until {exc.expires_at:%Y-%m-%d}")
    assert report.passed is True
    assert report.evidence["exceptions"] == [[exc.pk, "shap", exc.expires_at.isoformat()]]


def _republish_tier1(personas, **changes):
    rules = {**gov_selectors.policy_for_tier(1).rules, **changes}
    return gov.tier_policy_publish(actor=personas["admin_user"], tier=1, rules=rules)


def test_a_waiver_approved_under_another_tier_no_longer_waives(personas, make_ready):
    version = make_ready(tier=3, shap=False)
    model = version.model
    assert model.risk_tier == 3
    exc = ask(personas, version)
    assert exc.approver_roles == ["validator"]
    exceptions.exception_decide(actor=personas["validator"], exception_id=exc.pk,
                                decision="approve", role="validator")
    later = timezone.now() + dt.timedelta(minutes=1)
    assert shap_item(version, later)[0]["waived_by"] == exc.pk
    # Reassessed as high risk: tier 1's policy asks more, and never granted this waiver.
    risk_services.risk_assessment_create(actor=personas["owner"], model=model, answers=CREDIT_ANSWERS)
    model.refresh_from_db()
    assert model.risk_tier == 1
    item, report = shap_item(version, later)
    assert item["met"] is False and "waived_by" not in item and report.passed is False
    assert item["detail"].endswith(item["exception_lapsed"])
    assert (f"Exception #{exc.pk} no longer applies: it was approved under the tier 3 policy "
            "and the model is now judged under tier 1") in item["detail"]
    assert "exceptions" not in report.evidence


def test_a_stricter_maximum_ends_a_waiver_longer_than_it_allows(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    exc = approve_all(personas, ask(personas, version, days=60))
    _republish_tier1(personas, exception_max_days=90)  # a new version, same rules: still waives
    later = timezone.now() + dt.timedelta(minutes=1)
    assert shap_item(version, later)[0]["waived_by"] == exc.pk
    policy = _republish_tier1(personas, exception_max_days=30)
    item, report = shap_item(version, later)
    assert item["met"] is False and report.passed is False
    assert (f"Exception #{exc.pk} no longer applies: the tier 1 policy (v{policy.version}) now "
            "allows at most 30 days (exception_max_days)") in item["detail"]


def test_a_stricter_maximum_keeps_a_waiver_within_it(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    exc = approve_all(personas, ask(personas, version, days=20))
    _republish_tier1(personas, exception_max_days=30)
    item, _ = shap_item(version, timezone.now() + dt.timedelta(minutes=1))
    assert item["met"] is True and item["waived_by"] == exc.pk


def test_a_new_approver_role_ends_a_waiver_it_did_not_approve(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    exc = approve_all(personas, ask(personas, version))
    policy = _republish_tier1(personas, exception_approver_roles=[
        "validator", "compliance", "business_approver"])
    item, report = shap_item(version, timezone.now() + dt.timedelta(minutes=1))
    assert item["met"] is False and report.passed is False
    assert (f"Exception #{exc.pk} no longer applies: the tier 1 policy (v{policy.version}) now "
            "needs approval by business_approver (exception_approver_roles)") in item["detail"]


def test_expired_exception_recloses_its_gate_at_the_evaluations_now(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    now = timezone.now()
    exc = approve_all(personas, ask(personas, version, days=30, now=now), now=now)
    # Still recorded approved (beat has not run), but judged at a `now` past its expiry:
    assert exc.status == "approved"
    item, report = shap_item(version, exc.expires_at - dt.timedelta(seconds=1))
    assert item["met"] is True
    item, report = shap_item(version, exc.expires_at)
    assert item["met"] is False and "waived_by" not in item
    assert report.passed is False
    assert "exceptions" not in report.evidence


def test_a_waiver_lets_a_promotion_execute(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    approve_all(personas, ask(personas, version))
    req = services.promotion_request_open(actor=personas["engineer"], version=version,
                                          target_stage="production", justification="j")
    assert req.gate_report["passed"] is True
    for who, role in [("validator", "validator"), ("compliance", "compliance"),
                      ("business", "business_approver")]:
        services.promotion_decide(actor=personas[who], request_id=req.pk, decision="approve",
                                  role=role, comment="ok")
    req.refresh_from_db()
    version.refresh_from_db()
    assert (req.state, version.stage) == ("executed", "production")


def test_expiry_sweep_marks_expired_audits_and_notifies(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    now = timezone.now()
    exc = approve_all(personas, ask(personas, version, days=10, now=now), now=now)
    assert exceptions.exceptions_expire_due(now=exc.expires_at - dt.timedelta(seconds=1)) == []
    assert exceptions.exceptions_expire_due(now=exc.expires_at) == [exc.pk]
    exc.refresh_from_db()
    assert exc.status == "expired" and exc.closed_at == exc.expires_at
    event = AuditEvent.objects.get(action="approvals.exception.expired")
    assert event.actor_name == "system"
    assert event.payload["before"] == {"status": "approved"}
    assert Notification.objects.filter(kind="exception_expired", user__username="owner").exists()
    assert exceptions.exceptions_expire_due(now=exc.expires_at + dt.timedelta(days=1)) == []


def test_owner_is_notified_seven_days_before_expiry_exactly_once(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    now = timezone.now()
    exc = approve_all(personas, ask(personas, version, days=30, now=now), now=now)
    eight_days_before = exc.expires_at - dt.timedelta(days=8)
    seven_days_before = exc.expires_at - dt.timedelta(days=7)
    assert exceptions.exceptions_sweep(now=eight_days_before) == {"notified": [], "expired": []}
    assert exceptions.exceptions_sweep(now=seven_days_before) == {"notified": [exc.pk], "expired": []}
    for later in (seven_days_before + dt.timedelta(hours=1), exc.expires_at - dt.timedelta(days=1)):
        assert exceptions.exceptions_sweep(now=later)["notified"] == []
    notices = Notification.objects.filter(kind="exception_expiring")
    # the model's owner and the requester, once each
    assert sorted(notices.values_list("user__username", flat=True)) == ["engineer", "owner"]
    assert AuditEvent.objects.filter(action="approvals.exception.expiry_notified").count() == 1
    exc.refresh_from_db()
    assert exc.expiry_notified_at == seven_days_before


def test_withdrawal_by_requester_closes_the_gate_again(personas, make_ready):
    version = make_ready(tier=1, shap=False)
    exc = approve_all(personas, ask(personas, version))
    with pytest.raises(Forbidden):
        exceptions.exception_withdraw(actor=personas["validator"], exception_id=exc.pk)
    exceptions.exception_withdraw(actor=personas["engineer"], exception_id=exc.pk, reason="SHAP ran")
    exc.refresh_from_db()
    assert exc.status == "withdrawn"
    item, _ = shap_item(version, timezone.now())
    assert item["met"] is False


def test_exceptions_are_in_the_documentation_pack(personas, make_ready):
    from oversight import export

    version = make_ready(tier=1, shap=False)
    exc = approve_all(personas, ask(personas, version))
    html = export.render_pack_html(version, [])
    assert 'data-testid="pack-exceptions"' in html
    assert "Manual feature review by the validator" in html
    assert "validator (validator): approve" in html and f"<td class=\"num\">{exc.pk}</td>" in html


def test_exceptions_for_many_versions_in_bounded_queries(personas, make_ready, django_assert_num_queries):
    from approvals import selectors

    v1 = make_ready(tier=1, shap=False)
    v2 = make_ready(tier=1, shap=False, documentation=False, fairness=False)
    exc = approve_all(personas, ask(personas, v1))
    with django_assert_num_queries(2):
        found = selectors.exceptions_for_versions([v1.pk, v2.pk])
        states = [(e.pk, e.display_state, [d.approver.username for d in e.decisions.all()])
                  for e in found[v1.pk]]
    assert states == [(exc.pk, "active", ["validator", "compliance"])] and found[v2.pk] == []
    register = selectors.exceptions_register(v1)
    assert register["met"] is True and [r["id"] for r in register["active"]] == [exc.pk]


def test_the_beat_task_is_scheduled_and_sweeps(personas, make_ready, settings):
    from approvals import tasks

    schedule = settings.CELERY_BEAT_SCHEDULE["approvals-sweep-exceptions"]
    assert schedule["task"] == "approvals.tasks.sweep_exceptions"
    version = make_ready(tier=1, shap=False)
    exc = approve_all(personas, ask(personas, version, days=3))  # inside the notice period
    result = tasks.sweep_exceptions.apply().get()
    assert result == {"notified": [exc.pk], "expired": []}
    assert tasks.sweep_exceptions.apply().get() == {"notified": [], "expired": []}
