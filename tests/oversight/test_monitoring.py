"""Post-market monitoring (EU AI Act Art. 72): the plan, and job results judged against it:
a crossed threshold opens exactly one finding, the owner is notified."""

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from common import events
from common.errors import Forbidden, ValidationFailed
from explainability.models import Job
from governance.events import EVIDENCE_CHANGED
from governance.models import AuditEvent
from oversight import selectors, services
from oversight.models import Finding, MonitoringCrossing
from registry.models import ModelVersion
from tests import factories

PLAN = [{"metric": "drift.max_psi", "direction": "above", "threshold": 0.25},
        {"metric": "outcome.accuracy", "direction": "below", "threshold": 0.7, "severity": "medium"}]


@pytest.fixture
def setup(personas):
    eng = personas["engineer"]
    model = factories.model(eng, owner="owner")
    ds = factories.dataset(eng)
    ref, cur = factories.dataset_version(eng, ds), factories.dataset_version(eng, ds, csv=b"a,b\n5,6\n")
    version = factories.version(eng, model)
    ModelVersion.objects.filter(pk=version.pk).update(stage="production")
    version.refresh_from_db()
    return {"model": model, "version": version, "ref": ref, "cur": cur}


_clock = [timezone.now() - dt.timedelta(hours=1)]


def _job(setup, kind="drift", *, psi=None, accuracy=None, version=None):
    _clock[0] += dt.timedelta(seconds=1)
    result = ({"verdict": "drift" if psi >= 0.25 else "stable",
               "features": [{"feature": "a", "psi": psi}, {"feature": "b", "psi": psi / 2}],
               "summary": {"drift": int(psi >= 0.25)}} if kind == "drift" else
              {"passed": True, "metrics": {}, "outcomes": {"overall": {"accuracy": accuracy}}})
    version = version or setup["version"]
    return Job.objects.create(
        model_version=version, dataset=setup["cur"], reference_dataset=setup["ref"], kind=kind,
        status="succeeded", progress=100, attempts=1, started_at=_clock[0], finished_at=_clock[0],
        result=result, artifact_sha256=version.artifact_sha256,
    )


def _plan(personas, setup, who="owner", thresholds=PLAN, cadence=30):
    return services.monitoring_plan_save(
        actor=personas[who], model=setup["model"], responsible=personas["engineer"],
        cadence_days=cadence, thresholds=thresholds, notes="Monthly drift and outcome review.",
    )


def _evaluate(setup):
    return services.monitoring_evaluate(model_name=setup["model"].name)


def test_plan_saved_with_audit_and_selector(personas, setup):
    plan = _plan(personas, setup)
    found = selectors.plan_for(setup["model"])
    assert found == plan and found.responsible.username == "engineer" and found.cadence_days == 30
    assert [(t.metric, t.direction, t.threshold) for t in found.live_thresholds] == [
        ("drift.max_psi", "above", 0.25), ("outcome.accuracy", "below", 0.7)]
    event = AuditEvent.objects.get(action="oversight.monitoring_plan.saved")
    assert event.actor_name == "owner" and event.payload["before"] is None
    assert event.payload["after"]["thresholds"][0]["metric"] == "drift.max_psi"
    state = selectors.monitoring_register_state(setup["model"])
    assert state["exists"] and state["thresholds"] == 2 and state["open_crossings"] == 0


def test_plan_edit_retires_a_dropped_metric(personas, setup):
    _plan(personas, setup)
    _plan(personas, setup, who="validator",
          thresholds=[{"metric": "drift.max_psi", "direction": "above", "threshold": 0.2}])
    plan = selectors.plan_for(setup["model"])
    assert [(t.metric, t.threshold) for t in plan.live_thresholds] == [("drift.max_psi", 0.2)]
    last = AuditEvent.objects.filter(action="oversight.monitoring_plan.saved").order_by("-seq").first()
    assert last.payload["retired"] == ["outcome.accuracy"]
    assert last.payload["before"]["thresholds"][0]["threshold"] == 0.25


def _live(setup):
    return {t.metric: (t.direction, t.threshold, t.severity)
            for t in selectors.plan_for(setup["model"]).live_thresholds}


def test_owning_team_tightens_and_adds_but_does_not_loosen_or_retire(personas, setup):
    _plan(personas, setup)
    tighter = [{"metric": "drift.max_psi", "direction": "above", "threshold": 0.2},
               {"metric": "outcome.accuracy", "direction": "below", "threshold": 0.75,
                "severity": "high"},
               {"metric": "drift.drifted_features", "direction": "above", "threshold": 2}]
    _plan(personas, setup, who="engineer", thresholds=tighter)  # tighter, graver, one more
    assert _live(setup) == {"drift.max_psi": ("above", 0.2, "high"),
                            "outcome.accuracy": ("below", 0.75, "high"),
                            "drift.drifted_features": ("above", 2, "high")}
    saved = AuditEvent.objects.filter(action="oversight.monitoring_plan.saved").count()
    psi, acc, drifted = tighter
    for loosened, words in (
        ([{**psi, "threshold": 0.3}, acc, drifted], "drift.max_psi would alert above 0.3 instead of 0.2"),
        ([psi, {**acc, "threshold": 0.6}, drifted], "outcome.accuracy would alert below 0.6 instead of 0.75"),
        ([psi, {**acc, "direction": "above"}, drifted], "outcome.accuracy would alert above instead of below"),
        ([psi, {**acc, "severity": "low"}, drifted], "outcome.accuracy would open low findings instead of high"),
        ([psi, acc], "drift.drifted_features would be retired"),
    ):
        with pytest.raises(Forbidden) as exc:
            _plan(personas, setup, who="owner", thresholds=loosened)
        assert words in exc.value.detail and "validators, compliance or admins" in exc.value.detail
    assert _live(setup) == {"drift.max_psi": ("above", 0.2, "high"),  # nothing half-written
                            "outcome.accuracy": ("below", 0.75, "high"),
                            "drift.drifted_features": ("above", 2, "high")}
    assert AuditEvent.objects.filter(action="oversight.monitoring_plan.saved").count() == saved
    # The second line (and admins) may loosen and retire.
    _plan(personas, setup, who="compliance", thresholds=[{**psi, "threshold": 0.3}])
    _plan(personas, setup, who="admin_user", thresholds=[{**psi, "threshold": 0.35}])
    assert _live(setup) == {"drift.max_psi": ("above", 0.35, "high")}
    last = AuditEvent.objects.filter(action="oversight.monitoring_plan.saved").order_by("-seq")[1]
    assert last.actor_name == "compliance" and last.payload["retired"] == [
        "drift.drifted_features", "outcome.accuracy"]


def test_the_responsible_person_must_see_the_model(personas, setup):
    def save(who):
        return services.monitoring_plan_save(
            actor=personas["owner"], model=setup["model"], responsible=personas[who],
            cadence_days=30, thresholds=PLAN)

    for who, words in (("other_engineer", "other_engineer cannot see credit-default"),
                       ("auditor", "auditor cannot be responsible")):
        with pytest.raises(ValidationFailed) as exc:
            save(who)
        assert words in exc.value.errors["responsible"][0]
    assert selectors.plan_for(setup["model"]) is None
    assert save("validator").responsible.username == "validator"  # the second line sees all


def test_responsible_candidates_are_who_the_rule_allows_in_one_query(
        personas, setup, django_assert_num_queries):
    from governance import permissions as perms
    from governance import services as gov
    from governance.models import User

    gov.user_create(username="auditor_admin", roles=["auditor", "admin"], teams=[])
    gov.user_create(username="auditor_validator", roles=["auditor", "validator"], teams=[])
    gov.user_create(username="gone", roles=["engineer"], teams=["credit"])
    User.objects.filter(username="gone").update(is_active=False)
    User.objects.create(username="root", is_superuser=True)  # no role, no team: sees everything

    with django_assert_num_queries(1):
        names = [u.username for u in selectors.responsible_candidates(setup["model"])]
    allowed = sorted(u.username for u in User.objects.all()
                     if perms.explain_cannot_be_responsible_for_monitoring(u, setup["model"]) is None)
    assert names == allowed
    assert {"engineer", "owner", "validator", "compliance", "business", "admin_user",
            "auditor_admin", "root"} <= set(names)
    assert not {"other_engineer", "auditor", "auditor_validator", "gone"} & set(names)


@pytest.mark.parametrize(("thresholds", "cadence", "field"), [
    ([], 30, "thresholds"),
    ([{"metric": "nope", "direction": "above", "threshold": 1}], 30, "thresholds"),
    ([{"metric": "drift.max_psi", "direction": "sideways", "threshold": 1}], 30, "thresholds"),
    ([{"metric": "drift.max_psi", "threshold": "high"}], 30, "thresholds"),
    (PLAN, 0, "cadence_days"),
])
def test_bad_plans_are_refused_naming_the_field(personas, setup, thresholds, cadence, field):
    with pytest.raises(ValidationFailed) as exc:
        _plan(personas, setup, thresholds=thresholds, cadence=cadence)
    assert field in exc.value.errors


def test_auditor_cannot_save_a_plan(personas, setup):
    with pytest.raises(Forbidden):
        _plan(personas, setup, who="auditor")


def test_threshold_crossed_twice_opens_exactly_one_finding(personas, setup, mailoutbox,
                                                           django_capture_on_commit_callbacks):
    _plan(personas, setup)
    _job(setup, psi=0.05)
    assert _evaluate(setup) == []
    first = _job(setup, psi=0.4)
    with mock.patch("oversight.tasks.evaluate_monitoring.delay"), \
            mock.patch("approvals.tasks.recheck_promotions.delay") as recheck, \
            django_capture_on_commit_callbacks(execute=True):
        opened = _evaluate(setup)
    recheck.assert_called_once_with("credit-default")  # a blocking finding: promotions re-judge
    assert len(opened) == 1 and opened[0].job == first and opened[0].value == 0.4
    finding = opened[0].finding
    assert finding.severity == "high" and finding.status == "open" and finding.owner.username == "owner"
    assert "0.4 is above the plan's threshold 0.25" in finding.title
    crossed = [m for m in mailoutbox if "threshold crossed" in m.subject]
    assert len(crossed) == 1 and set(crossed[0].to) == {"owner@example.com", "engineer@example.com"}
    # The same result re-evaluated, and a second result still beyond the threshold: same crossing.
    assert _evaluate(setup) == []
    second = _job(setup, psi=0.5)
    assert _evaluate(setup) == [] and _evaluate(setup) == []
    assert Finding.objects.count() == 1 and MonitoringCrossing.objects.count() == 1
    crossing = MonitoringCrossing.objects.get()
    assert crossing.last_job == second and crossing.last_value == 0.5 and crossing.ended_at is None
    assert AuditEvent.objects.filter(action="oversight.monitoring.threshold_crossed").count() == 1
    opened_event = AuditEvent.objects.get(action="governance.finding.opened")
    assert opened_event.actor_name == "system" and opened_event.payload["after"]["source"] == "monitoring"


def test_back_within_ends_the_crossing_and_a_new_crossing_opens_a_new_finding(personas, setup):
    _plan(personas, setup)
    _job(setup, psi=0.3)
    _job(setup, psi=0.1)
    _job(setup, psi=0.6)
    # A new plan judges only the newest result; then each later one in order.
    assert len(_evaluate(setup)) == 1
    _job(setup, psi=0.1)
    assert _evaluate(setup) == []
    ended = MonitoringCrossing.objects.get()
    assert ended.ended_at is not None and ended.last_value == 0.1
    _job(setup, psi=0.9)
    assert len(_evaluate(setup)) == 1
    assert Finding.objects.count() == 2
    assert AuditEvent.objects.filter(action="oversight.monitoring.crossing_ended").count() == 1


def test_outcome_metric_below_threshold_opens_a_finding_of_its_severity(personas, setup):
    _plan(personas, setup)
    _job(setup, "fairness", accuracy=0.65)
    [crossing] = _evaluate(setup)
    assert crossing.threshold.metric == "outcome.accuracy"
    assert crossing.finding.severity == "medium"


def test_results_on_versions_not_in_production_are_not_judged(personas, setup):
    _plan(personas, setup)
    staging = factories.version(personas["engineer"], setup["model"])
    _job(setup, psi=0.9, version=staging)
    assert _evaluate(setup) == []


def test_a_database_constraint_allows_one_open_crossing_per_threshold(personas, setup):
    from django.db import IntegrityError, transaction

    _plan(personas, setup)
    _job(setup, psi=0.9)
    [crossing] = _evaluate(setup)
    other = _job(setup, psi=0.95)
    finding = Finding.objects.create(model=setup["model"], title="dup", severity="high")
    with pytest.raises(IntegrityError), transaction.atomic():
        MonitoringCrossing.objects.create(threshold=crossing.threshold, job=other, value=1,
                                          finding=finding, last_job=other, last_value=1)


def test_a_job_result_enqueues_the_evaluation_after_commit(personas, setup,
                                                          django_capture_on_commit_callbacks):
    from django.db import transaction

    from governance.events import evidence_changed

    with mock.patch("oversight.tasks.evaluate_monitoring.delay") as delay, \
            mock.patch("approvals.tasks.recheck_promotions.delay"):
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic(durable=False):
                evidence_changed(setup["model"].name)
    delay.assert_called_once_with(setup["model"].name)
    assert events.declared()[EVIDENCE_CHANGED.name]


def test_a_drift_job_finishing_in_the_worker_opens_the_finding(personas, setup,
                                                               django_capture_on_commit_callbacks):
    """The real path: explainability's job_succeed publishes the evidence change; after commit
    oversight's handler queues evaluate_monitoring, which (run here as a worker would) opens the
    finding; re-running it opens nothing more."""
    from explainability import services as job_services
    from oversight import tasks

    _plan(personas, setup)
    job = Job.objects.create(
        model_version=setup["version"], dataset=setup["cur"], reference_dataset=setup["ref"],
        kind="drift", status="running", attempts=1, started_at=timezone.now(),
        artifact_sha256=setup["version"].artifact_sha256,
    )
    queued: list[str] = []
    with mock.patch.object(tasks.evaluate_monitoring, "delay", side_effect=queued.append), \
            mock.patch("approvals.tasks.recheck_promotions.delay"), \
            django_capture_on_commit_callbacks(execute=True):
        assert job_services.job_succeed(job_id=job.pk, attempt=1, result={
            "verdict": "drift", "features": [{"feature": "a", "psi": 0.42}],
            "summary": {"drift": 1}})
    assert queued == ["credit-default"]
    with mock.patch("approvals.tasks.recheck_promotions.delay"):
        assert len(tasks.evaluate_monitoring.apply(args=queued).get()) == 1
        assert tasks.evaluate_monitoring.apply(args=queued).get() == []
    crossing = MonitoringCrossing.objects.get()
    assert crossing.job == job and crossing.value == 0.42 and crossing.finding.severity == "high"


def test_saving_a_plan_prepares_the_drift_reference_of_the_models_production_versions(
    personas, setup, django_capture_on_commit_callbacks
):
    """The plan relies on the scheduled drift checks: their reference's profile is prepared in
    a worker once the plan commits (only production versions are checked)."""
    factories.version(personas["engineer"], setup["model"])  # not in production
    with mock.patch("oversight.tasks.evaluate_monitoring.delay"), \
            mock.patch("explainability.tasks.prepare_drift_reference.delay") as prepare, \
            django_capture_on_commit_callbacks(execute=True):
        _plan(personas, setup)
    prepare.assert_called_once_with(setup["version"].pk)
