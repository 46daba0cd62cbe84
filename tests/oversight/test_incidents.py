"""Incidents (EU AI Act Art. 73): the reporting clock and its boundaries, bad dates, the workflow."""

import datetime as dt
from unittest import mock

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
            occurred=None, who="engineer", now=NOW, affected_persons=40, **kw):
    known = known or NOW - dt.timedelta(days=1)
    return services.incident_report(
        actor=personas[who], model=model, title="Wrongful denials", description="Rejected 40 applicants.",
        occurred_at=occurred or known - dt.timedelta(hours=3), became_known_at=known,
        affected_persons=affected_persons, serious=serious, seriousness=seriousness if serious else None,
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


def test_owning_team_cannot_report_or_close_its_own_serious_incident(personas, model):
    incident = _report(personas, model)
    services.incident_transition(actor=personas["engineer"], incident=incident,
                                 to_status="investigating", note="Looking at the cut-off.")
    for status, kw in (("reported_to_authority", {"authority_reference": "MSA-1"}),
                       ("closed", {"resolution": "Fixed."})):
        for who in ("engineer", "owner"):
            with pytest.raises(Forbidden) as exc:
                services.incident_transition(actor=personas[who], incident=incident,
                                             to_status=status, **kw)
            assert "Only validators, compliance or admins" in exc.value.detail
    incident.refresh_from_db()
    assert incident.status == "investigating" and incident.authority_reported_at is None
    assert list(selectors.open_serious(model)) == [incident]  # the block stays
    services.incident_transition(actor=personas["validator"], incident=incident,
                                 to_status="reported_to_authority", authority_reference="MSA-1")
    services.incident_transition(actor=personas["admin_user"], incident=incident,
                                 to_status="closed", resolution="Fixed.")
    assert list(selectors.open_serious(model)) == []


def test_owning_team_still_closes_an_incident_that_is_not_serious(personas, model):
    incident = _report(personas, model, serious=False)
    services.incident_transition(actor=personas["engineer"], incident=incident, to_status="investigating")
    services.incident_transition(actor=personas["owner"], incident=incident, to_status="closed",
                                 resolution="A display glitch; nobody was refused.")
    incident.refresh_from_db()
    assert incident.status == "closed"


def _reclassify(personas, incident, who="compliance", *, serious=True, seriousness="death",
                reason="40 refusals are serious harm to livelihoods.", now=NOW):
    return services.incident_reclassify(actor=personas[who], incident=incident, serious=serious,
                                        seriousness=seriousness, reason=reason, now=now)


def test_second_line_upgrades_an_incident_the_clock_runs_from_became_known(
        personas, model, mailoutbox, django_capture_on_commit_callbacks):
    known = NOW - dt.timedelta(days=3)
    incident = _report(personas, model, serious=False, known=known)
    assert list(selectors.open_serious(model)) == []
    with mock.patch("oversight.tasks.evaluate_monitoring.delay"), \
            mock.patch("approvals.tasks.recheck_promotions.delay") as recheck, \
            django_capture_on_commit_callbacks(execute=True):
        _reclassify(personas, incident, seriousness="widespread-infringement")
    recheck.assert_called_once_with(model.name)  # live promotions re-judge the gate
    incident.refresh_from_db()
    assert incident.serious and incident.seriousness.key == "widespread-infringement"
    assert incident.clock_days == 2 and incident.deadline_at == known + dt.timedelta(days=2)
    assert incident.is_overdue(NOW)  # known three days ago: the two days have passed
    assert list(selectors.open_serious(model)) == [incident]  # now it blocks promotion
    event = AuditEvent.objects.get(action="oversight.incident.reclassified")
    assert event.actor_name == "compliance"
    assert event.payload["before"] == {"serious": False, "seriousness": None, "clock_days": None,
                                       "deadline_at": None}
    assert event.payload["after"]["seriousness"] == "widespread-infringement"
    assert event.payload["after"]["clock_days"] == 2
    assert "became_known_at" in event.payload["deadline_basis"]
    assert "not the time of reclassification" in event.payload["deadline_basis"]
    assert event.payload["overdue"] is True and event.payload["reason"].startswith("40 refusals")
    [mail] = [m for m in mailoutbox if "reclassified" in m.subject]
    assert "which has already passed" in mail.body and set(mail.to) >= {"owner@example.com"}


def test_reclassify_changes_the_kind_or_downgrades(personas, model):
    known = NOW - dt.timedelta(hours=5)
    incident = _report(personas, model, seriousness="serious-harm", known=known)
    _reclassify(personas, incident, who="validator", seriousness="death")
    incident.refresh_from_db()
    assert (incident.clock_days, incident.deadline_at) == (10, known + dt.timedelta(days=10))
    _reclassify(personas, incident, who="admin_user", serious=False, seriousness=None,
                reason="A test applicant; no person was affected.")
    incident.refresh_from_db()
    assert not incident.serious and incident.deadline_at is None and incident.clock_days is None
    assert list(selectors.open_serious(model)) == []
    assert AuditEvent.objects.filter(action="oversight.incident.reclassified").count() == 2


def test_reclassify_is_second_line_only_and_refuses_bad_input(personas, model):
    incident = _report(personas, model, serious=False)
    for who in ("engineer", "owner", "auditor"):
        with pytest.raises(Forbidden):
            _reclassify(personas, incident, who=who)
    with pytest.raises(ValidationFailed) as exc:
        _reclassify(personas, incident, reason=" ")
    assert "reason" in exc.value.errors
    with pytest.raises(ValidationFailed) as exc:
        _reclassify(personas, incident, seriousness="bad-day")
    assert "death" in exc.value.errors["seriousness"][0]
    with pytest.raises(ValidationFailed) as exc:
        _reclassify(personas, incident, serious=False, seriousness=None)
    assert "already classified not serious" in exc.value.errors["serious"][0]
    services.incident_transition(actor=personas["engineer"], incident=incident, to_status="investigating")
    services.incident_transition(actor=personas["engineer"], incident=incident, to_status="closed",
                                 resolution="Nothing to do.")
    with pytest.raises(Conflict) as exc:
        _reclassify(personas, incident)
    assert "re-open it" in exc.value.detail
    incident.refresh_from_db()
    assert not incident.serious
    assert not AuditEvent.objects.filter(action="oversight.incident.reclassified").exists()


def test_affected_persons_beyond_the_column_is_refused(personas, model):
    with pytest.raises(ValidationFailed) as exc:
        _report(personas, model, serious=False, affected_persons=2_147_483_648)
    assert "2147483647" in exc.value.errors["affected_persons"][0]
    assert Incident.objects.count() == 0
