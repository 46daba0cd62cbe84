"""Monitoring evaluations racing (a job result's evaluation and a plan save's, or two workers
given the same message) open exactly one finding for one crossing: real separate connections."""

import pytest
from django.utils import timezone

from explainability.models import Job
from oversight import services
from oversight.models import Finding, MonitoringCrossing
from registry.models import ModelVersion
from tests import factories
from tests.approvals.test_promotion_concurrency import _run_all


@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_open_one_finding(personas, monkeypatch):
    from approvals import tasks as approval_tasks
    from oversight import tasks

    monkeypatch.setattr(tasks.evaluate_monitoring, "delay", lambda *a: None)
    monkeypatch.setattr(approval_tasks.recheck_promotions, "delay", lambda *a: None)
    eng = personas["engineer"]
    model = factories.model(eng, owner="owner")
    ds = factories.dataset(eng)
    ref, cur = factories.dataset_version(eng, ds), factories.dataset_version(eng, ds)
    version = factories.version(eng, model)
    ModelVersion.objects.filter(pk=version.pk).update(stage="production")
    services.monitoring_plan_save(
        actor=personas["owner"], model=model, responsible=eng, cadence_days=7,
        thresholds=[{"metric": "drift.max_psi", "direction": "above", "threshold": 0.25}])
    now = timezone.now()
    Job.objects.create(
        model_version=version, dataset=cur, reference_dataset=ref, kind="drift",
        status="succeeded", progress=100, attempts=1, started_at=now, finished_at=now,
        result={"verdict": "drift", "features": [{"feature": "a", "psi": 0.5}]},
        artifact_sha256=version.artifact_sha256,
    )
    results, errors = _run_all(
        [lambda: services.monitoring_evaluate(model_name=model.name) for _ in range(4)])
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert Finding.objects.count() == 1 and MonitoringCrossing.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_saves_of_a_plan_both_succeed_one_plan(personas, monkeypatch):
    """Two first saves at once (two tabs, a retried PUT): the model row serialises them, so the
    second updates the plan the first created instead of failing on the one-plan-per-model key."""
    from governance.models import AuditEvent
    from oversight import tasks
    from oversight.models import MonitoringPlan

    monkeypatch.setattr(tasks.evaluate_monitoring, "delay", lambda *a: None)
    model = factories.model(personas["engineer"], owner="owner")

    def save(who, psi):
        return lambda: services.monitoring_plan_save(
            actor=personas[who], model=model, responsible=personas["engineer"], cadence_days=7,
            thresholds=[{"metric": "drift.max_psi", "direction": "above", "threshold": psi}])

    results, errors = _run_all([save(who, 0.25) for who in ("owner", "engineer", "engineer2",
                                                            "validator")])
    assert errors == []
    assert len(results) == 4 and MonitoringPlan.objects.count() == 1
    events = AuditEvent.objects.filter(action="oversight.monitoring_plan.saved").order_by("seq")
    assert [e.payload["before"] is None for e in events] == [True, False, False, False]
