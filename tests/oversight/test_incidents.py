"""Incidents (EU AI Act Art. 73): the reporting clock and its boundaries, bad dates, the workflow."""

import datetime as dt

import pytest
from django.utils import timezone

from common.errors import Conflict, Forbidden, ValidationFailed
from governance.models import AuditEvent
from oversight import selectors, services
from oversight.models import Incident, IncidentClock
from tests import factories

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def model(personas):
    return factories.model(personas["engineer"], owner="owner")


def _report(personas, model, *, serious=True, seriousness="serious-harm", known=None,
            occurred=None, who="engineer", now=NOW, **kw):
    known = known or NOW - dt.timedelta(days=1)
    return services.incident_report(
        actor=personas[who], model=model, title="Wrongful denials", description="Rejected 40 applicants.",
        occurred_at=occurred or known - dt.timedelta(hours=3), became_known_at=known,
        affected_persons=40, serious=serious, seriousness=seriousness if serious else None,
        now=now, **kw,
    )


def test_the_clocks_are_seeded_as_data(db):
    days = dict(IncidentClock.objects.values_list("key", "days"))
    assert days == {"serious-harm": 15, "death": 10, "widespread-infringement": 2,
                    "critical-infrastructure": 2}


@pytest.mark.parametrize(("kind", "days"), [
    ("serious-harm", 15), ("death", 10), ("widespread-infringement", 2),
    ("critical-infrastructure", 2),
])
def test_deadline_is_known_date_plus_the_kinds_days(personas, model, kind, days):
    known = NOW - dt.timedelta(hours=5)
    incident = _report(personas, model, seriousness=kind, known=known)
    assert incident.deadline_at == known + dt.timedelta(days=days)
    assert incident.clock_days == days
    event = AuditEvent.objects.get(action="oversight.incident.reported")
    assert event.actor_name == "engineer" and event.payload["after"]["seriousness"] == kind


def test_exactly_on_the_deadline_is_not_overdue_one_second_after_is(personas, model):
    incident = _report(personas, model, seriousness="death")
    deadline = incident.deadline_at
    assert not incident.is_overdue(deadline)
    assert list(selectors.overdue_incidents(now=deadline)) == []
    after = deadline + dt.timedelta(seconds=1)
    assert incident.is_overdue(after)
    assert list(selectors.overdue_incidents(now=after)) == [incident]
    assert selectors.incident_register_state(model, now=after)["overdue"] == [incident.pk]


def test_two_day_kind_goes_overdue_after_two_days(personas, model):
    known = NOW - dt.timedelta(days=3)
    incident = _report(personas, model, seriousness="widespread-infringement", known=known)
    assert incident.deadline_at == known + dt.timedelta(days=2)
    assert incident.is_overdue(NOW)
    ten = _report(personas, model, seriousness="death", known=known)
    assert not ten.is_overdue(NOW)
    assert list(selectors.overdue_incidents(now=NOW)) == [incident]


def test_a_changed_clock_applies_to_new_incidents_only(personas, model):
    old = _report(personas, model, seriousness="death")
    IncidentClock.objects.filter(key="death").update(days=7)
    new = _report(personas, model, seriousness="death")
    assert (old.clock_days, new.clock_days) == (10, 7)
    assert new.deadline_at == new.became_known_at + dt.timedelta(days=7)


def test_reported_to_the_authority_is_no_longer_overdue(personas, model):
    incident = _report(personas, model, seriousness="critical-infrastructure",
                       known=timezone.now() - dt.timedelta(days=5), now=None)
    assert list(selectors.overdue_incidents()) == [incident]
    services.incident_transition(actor=personas["compliance"], incident=incident,
                                 to_status="reported_to_authority", authority_reference="MSA-2026-17")
    assert list(selectors.overdue_incidents()) == []


def test_non_serious_incident_has_no_clock(personas, model):
    incident = _report(personas, model, serious=False)
    assert incident.deadline_at is None and not incident.is_overdue(NOW + dt.timedelta(days=400))


@pytest.mark.parametrize("field", ["occurred_at", "became_known_at"])
def test_a_date_in_the_future_is_refused_naming_the_field(personas, model, field):
    future = NOW + dt.timedelta(minutes=1)
    dates = {"occurred": NOW - dt.timedelta(hours=1), "known": NOW - dt.timedelta(minutes=30)}
    if field == "occurred_at":
        dates = {"occurred": future, "known": future}
    else:
        dates["known"] = future
    with pytest.raises(ValidationFailed) as exc:
        _report(personas, model, occurred=dates["occurred"], known=dates["known"])
    assert field in exc.value.errors
    assert "must not be in the future" in exc.value.errors[field][0].lower()
    assert Incident.objects.count() == 0


def test_known_before_it_occurred_is_refused(personas, model):
    with pytest.raises(ValidationFailed) as exc:
        _report(personas, model, occurred=NOW - dt.timedelta(hours=1),
                known=NOW - dt.timedelta(hours=2))
    assert "before the incident occurred" in exc.value.errors["became_known_at"][0]


def test_serious_needs_a_known_kind(personas, model):
    with pytest.raises(ValidationFailed) as exc:
        _report(personas, model, seriousness="bad-day")
    assert "death" in exc.value.errors["seriousness"][0]


def test_auditor_and_other_team_cannot_report(personas, model):
    with pytest.raises(Forbidden):
        _report(personas, model, who="auditor")
    with pytest.raises(Forbidden):
        _report(personas, model, who="other_engineer")


def test_workflow_serious_closes_only_after_authority_report(personas, model):
    incident = _report(personas, model)
    assert list(selectors.open_serious(model)) == [incident]
    services.incident_transition(actor=personas["compliance"], incident=incident, to_status="investigating")
    with pytest.raises(ValidationFailed) as exc:
        services.incident_transition(actor=personas["compliance"], incident=incident,
                                     to_status="closed", resolution="Fixed the cut-off.")
    assert "reported to the" in exc.value.errors["status"][0]
    with pytest.raises(ValidationFailed) as exc:
        services.incident_transition(actor=personas["compliance"], incident=incident,
                                     to_status="reported_to_authority")
    assert "authority_reference" in exc.value.errors
    services.incident_transition(actor=personas["compliance"], incident=incident,
                                 to_status="reported_to_authority", authority_reference="MSA-1")
    services.incident_transition(actor=personas["compliance"], incident=incident,
                                 to_status="closed", resolution="Cut-off corrected, applicants re-scored.")
    incident.refresh_from_db()
    assert incident.status == "closed" and incident.closed_at and incident.authority_reported_at
    assert list(selectors.open_serious(model)) == []
    moves = AuditEvent.objects.filter(action="oversight.incident.transitioned").order_by("seq")
    assert [(e.payload["before"]["status"], e.payload["after"]["status"]) for e in moves] == [
        ("reported", "investigating"), ("investigating", "reported_to_authority"),
        ("reported_to_authority", "closed")]


def test_illegal_move_is_a_conflict(personas, model):
    incident = _report(personas, model, serious=False)
    with pytest.raises(Conflict):
        services.incident_transition(actor=personas["compliance"], incident=incident,
                                     to_status="closed", resolution="x")
