"""Promotion page extras: conditions on approval and their resolution, execute and withdraw per
allowed_actions, the emergency rollback on the version page, and the notifications inbox."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals import services as approvals
from approvals.models import ApprovalCondition, Decision, Notification
from governance.models import AuditEvent
from oversight import risk
from oversight import services as ov_services
from registry.models import ModelVersion
from tests.approvals.conftest import make_ready  # noqa: F401 (a fixture)
from tests.portal.conftest import write_forms

pytestmark = pytest.mark.django_db


def _answers() -> dict:
    return {q.key: q.options[0][0] for q in risk.QUESTIONS}


@pytest.fixture
def request_(registry, personas):
    """credit-default@1 → production, tier 2 (validator + compliance), opened by its owner; its
    SHAP and fairness evidence is missing, so full approval holds it as approved."""
    assessment = ov_services.risk_assessment_create(actor=personas["owner"], model=registry["base"],
                                            answers=_answers())
    ov_services.risk_assessment_override(actor=personas["validator2"], assessment=assessment, tier=2,
                                 justification="Drives retail credit decisions.")
    return approvals.promotion_request_open(
        actor=personas["owner"], version=registry["v1"], target_stage="production",
        justification="Better AUC than the scorecard.",
    )


def _decide(web, req, role, decision="approve", comment="", rows=()) -> object:
    data = {"role": role, "decision": decision, "comment": comment,
            "cond-TOTAL_FORMS": "3", "cond-INITIAL_FORMS": "0",
            "cond-MIN_NUM_FORMS": "0", "cond-MAX_NUM_FORMS": "10"}
    for i, (text, due) in enumerate(rows):
        data[f"cond-{i}-text"], data[f"cond-{i}-due_date"] = text, due
    return web.post(f"/promotions/{req.pk}/decide/", data)


def _due(days: int = 30) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def test_the_promotion_detail_url_name_used_in_notifications_exists(request_):
    assert reverse("approvals:promotion-detail", args=[request_.pk]) == f"/promotions/{request_.pk}/"


def test_validator_approves_with_conditions_that_show_on_the_request(web_for, request_):
    web = web_for("validator")
    assert 'data-testid="condition-rows"' in web.get(f"/promotions/{request_.pk}/").content.decode()
    response = _decide(web, request_, "validator", rows=[("Back-test thin files", _due(30)),
                                                        ("Monthly PSI report", _due(60))])
    assert response.status_code == 302
    conditions = list(ApprovalCondition.objects.filter(request=request_).order_by("due_date"))
    assert [c.text for c in conditions] == ["Back-test thin files", "Monthly PSI report"]
    html = web.get(f"/promotions/{request_.pk}/").content.decode()
    assert 'data-testid="conditions"' in html and "Back-test thin files" in html
    event = AuditEvent.objects.get(action="approvals.promotion.decided")
    assert [c["text"] for c in event.payload["conditions"]] == ["Back-test thin files", "Monthly PSI report"]


def test_a_condition_without_a_due_date_is_flagged_next_to_it(web_for, request_):
    response = _decide(web_for("validator"), request_, "validator", rows=[("Back-test", "")])
    assert response.status_code == 400
    assert 'id="id_cond-0-due_date-error"' in response.content.decode()
    assert not Decision.objects.exists()


def test_a_condition_due_in_the_past_is_refused_with_the_reason(web_for, request_):
    response = _decide(web_for("validator"), request_, "validator", rows=[("Back-test", _due(-1))])
    assert response.status_code == 400
    assert "due date in the past" in response.content.decode()
    assert not ApprovalCondition.objects.exists()


def test_requester_resolves_a_condition_and_the_validator_cannot(web_for, request_):
    _decide(web_for("validator"), request_, "validator", rows=[("Back-test thin files", _due())])
    condition = ApprovalCondition.objects.get()
    validator_html = web_for("validator").get(f"/promotions/{request_.pk}/").content.decode()
    assert f'data-testid="resolve-{condition.pk}"' not in validator_html
    owner = web_for("owner")
    assert f'data-testid="resolve-{condition.pk}"' in owner.get(f"/promotions/{request_.pk}/").content.decode()
    url = f"/promotions/{request_.pk}/conditions/{condition.pk}/resolve/"
    empty = owner.post(url, {"note": ""})
    assert empty.status_code == 400 and 'id="id_note-error"' in empty.content.decode()
    response = owner.post(url, {"note": "Back-test attached to section 7."}, follow=True)
    condition.refresh_from_db()
    assert condition.status == "met" and condition.resolved_by.username == "owner"
    assert "Back-test attached to section 7." in response.content.decode()
    refused = web_for("validator2").post(url, {"note": "x"})
    assert refused.status_code == 403
    assert "Only the requester or the model&#x27;s owner may resolve a condition." in refused.content.decode()


def test_only_those_allowed_see_execute_and_a_held_request_says_why_it_cannot_run(web_for, request_):
    _decide(web_for("validator"), request_, "validator")
    _decide(web_for("compliance"), request_, "compliance")
    request_.refresh_from_db()
    assert request_.state == "approved"
    owner = web_for("owner")
    assert 'data-testid="execute"' in owner.get(f"/promotions/{request_.pk}/").content.decode()
    assert 'data-testid="execute"' not in web_for("validator").get(f"/promotions/{request_.pk}/").content.decode()
    response = owner.post(f"/promotions/{request_.pk}/execute/", follow=True)
    html = response.content.decode()
    assert "cannot execute yet" in html
    assert ModelVersion.objects.get(pk=request_.version_id).stage == "development"
    refused = web_for("validator").post(f"/promotions/{request_.pk}/execute/")
    assert refused.status_code == 403
    assert "Only the requester or the model" in refused.content.decode()


def test_requester_withdraws_and_the_button_disappears(web_for, request_):
    owner = web_for("owner")
    owner.post(f"/promotions/{request_.pk}/withdraw/", {"reason": "Superseded."})
    request_.refresh_from_db()
    assert request_.state == "withdrawn"
    html = owner.get(f"/promotions/{request_.pk}/").content.decode()
    assert "Withdraw this request" not in html


# --- emergency rollback -----------------------------------------------------------------------


@pytest.fixture
def in_production(personas, make_ready):  # noqa: F811
    version = make_ready(tier=1)
    req = approvals.promotion_request_open(actor=personas["engineer"], version=version,
                                           target_stage="production", justification="Ready.")
    for who, role in [("validator", "validator"), ("compliance", "compliance"),
                      ("business", "business_approver")]:
        approvals.promotion_decide(actor=personas[who], request_id=req.pk, decision="approve",
                                   role=role, comment="ok")
    version.refresh_from_db()
    assert version.stage == "production"
    return version


def test_validator_rolls_back_a_production_version_with_a_reason(web_for, in_production):
    url = f"/models/{in_production.model.name}/v{in_production.version}/"
    web = web_for("validator")
    assert 'data-testid="rollback-form"' in web.get(url).content.decode()
    missing = web.post(url + "rollback/", {"reason": ""})
    assert missing.status_code == 400 and 'id="id_reason-error"' in missing.content.decode()
    response = web.post(url + "rollback/", {"reason": "Scores drifted after the rates change."}, follow=True)
    in_production.refresh_from_db()
    assert in_production.stage == "archived"
    assert "rolled back from production" in response.content.decode()
    event = AuditEvent.objects.filter(action="registry.version.stage_changed").latest("seq")
    assert event.payload["rollback_reason"] == "Scores drifted after the rates change."


def test_developer_and_auditor_get_no_rollback_and_a_403(web_for, in_production):
    url = f"/models/{in_production.model.name}/v{in_production.version}/"
    for name in ("engineer", "auditor"):
        web = web_for(name)
        assert 'data-testid="rollback-form"' not in web.get(url).content.decode()
        refused = web.post(url + "rollback/", {"reason": "x"})
        assert refused.status_code == 403
    assert "Only a validator or the model" in web_for("engineer").post(url + "rollback/", {"reason": "x"}).content.decode()
    in_production.refresh_from_db()
    assert in_production.stage == "production"


def test_the_model_owner_also_may_roll_back(web_for, in_production):
    url = f"/models/{in_production.model.name}/v{in_production.version}/"
    assert 'data-testid="rollback-form"' in web_for("owner").get(url).content.decode()


# --- notifications ----------------------------------------------------------------------------


def test_unread_count_in_the_nav_and_notification_links_to_the_request(web_for, request_):
    web = web_for("validator")
    unread = Notification.objects.filter(user__username="validator", read_at__isnull=True).count()
    assert unread >= 1
    nav = web.get("/").content.decode()
    assert f'data-testid="unread-count">{unread}</span>' in nav
    html = web.get("/notifications/").content.decode()
    assert f'href="/promotions/{request_.pk}/"' in html
    assert f"Approval needed: {request_.version.ref}" in html


def test_open_marks_read_and_follows_the_link(web_for, request_):
    note = Notification.objects.filter(user__username="validator", kind="promotion_awaiting").get()
    response = web_for("validator").post(f"/notifications/{note.pk}/read/", {"open": "1"})
    assert response.status_code == 302 and response["Location"] == f"/promotions/{request_.pk}/"
    note.refresh_from_db()
    assert note.read_at is not None


def test_mark_all_read_clears_the_count(web_for, request_):
    web = web_for("compliance")
    web.post("/notifications/read-all/")
    assert not Notification.objects.filter(user__username="compliance", read_at__isnull=True).exists()
    assert 'data-testid="unread-count"' not in web.get("/").content.decode()
    assert "Nothing unread." in web.get("/notifications/?unread=1").content.decode()


def test_someone_elses_notification_is_not_found(web_for, request_):
    note = Notification.objects.filter(user__username="validator").first()
    assert web_for("compliance").post(f"/notifications/{note.pk}/read/").status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_auditor_sees_notifications_without_controls_and_cannot_mark_read(web_for, personas, request_):
    Notification.objects.create(user=personas["auditor"], kind="general", subject="Review overdue")
    web = web_for("auditor")
    html = web.get("/notifications/").content.decode()
    assert "Review overdue" in html and write_forms(html) == []
    assert web.post("/notifications/read-all/").status_code == 403
    assert Notification.objects.get(user=personas["auditor"]).read_at is None


def test_notifications_page_query_count_does_not_grow_with_notifications(web_for, personas, request_):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    web = web_for("validator")
    with CaptureQueriesContext(connection) as few:
        web.get("/notifications/")
    Notification.objects.bulk_create([
        Notification(user=personas["validator"], kind="general", subject=f"n{i}", link=f"/findings/{i}/")
        for i in range(30)
    ])
    with CaptureQueriesContext(connection) as many:
        html = web.get("/notifications/").content.decode()
    assert "n29" in html
    assert len(many) == len(few)
