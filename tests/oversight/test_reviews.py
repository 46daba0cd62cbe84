"""Periodic review: next review date from the policy, overdue models flagged once and notified."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from governance import selectors
from governance.models import AuditEvent
from oversight import services, tasks
from oversight.models import ReviewOverdue
from tests import factories


@pytest.fixture
def model(personas):
    personas["owner"].email = "owner@example.com"
    personas["owner"].save()
    return factories.model(personas["engineer"], owner="owner")


def test_next_review_date_is_approval_plus_the_policy_validity(personas, model):
    policy = selectors.policy_for_tier(1)
    approved = timezone.now()
    with transaction.atomic():
        due = services.review_schedule_after_approval(model=model, policy=policy, approved_at=approved,
                                                      actor=personas["validator"])
    assert due == (approved + dt.timedelta(days=365)).date()
    model.refresh_from_db()
    assert model.next_review_date == due
    event = AuditEvent.objects.get(action="governance.review.scheduled")
    assert event.payload["policy"] == {"tier": 1, "version": policy.version}


def test_overdue_models_are_flagged_once_and_owners_emailed(personas, model, mailoutbox,
                                                            django_capture_on_commit_callbacks):
    model.next_review_date = timezone.localdate() - dt.timedelta(days=3)
    model.save()
    factories.model(personas["engineer"], name="fresh", owner="owner")
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.mark_overdue_reviews() == ["credit-default"]
        assert tasks.mark_overdue_reviews() == []
    assert ReviewOverdue.objects.count() == 1
    event = AuditEvent.objects.get(action="governance.review.overdue")
    assert event.payload["days_overdue"] == 3 and event.actor_name == "system"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["owner@example.com"]
    assert "credit-default" in mailoutbox[0].subject


def test_dashboard_lists_overdue_models_visible_to_the_user(client_for, model):
    model.next_review_date = timezone.localdate() - dt.timedelta(days=1)
    model.save()
    assert [r["model"] for r in client_for("validator").get("/api/v1/reviews/overdue/").json()] == [
        "credit-default"]
    assert client_for("other_engineer").get("/api/v1/reviews/overdue/").json() == []


def test_beat_schedule_runs_the_task(settings):
    names = {v["task"] for v in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "oversight.tasks.mark_overdue_reviews" in names
