"""The one evidence registry: what a tier policy may require is exactly what a gate can judge."""

from __future__ import annotations

import pytest
from django.utils import timezone

from approvals import gates
from common.errors import ValidationFailed
from explainability.models import Job
from governance import selectors as gov_selectors
from governance import services as gov_services
from governance.fairness import FAIRNESS_METRICS
from governance.policy import default_rules, evidence_kinds, rules_errors
from tests import factories
from tests.approvals.conftest import _dataset

pytestmark = pytest.mark.django_db


def _drift_job(version, reference, verdict: str) -> Job:
    """A finished drift job comparing a newer version of the reference data with it."""
    newer = factories.dataset_version(version.created_by, reference.dataset)
    now = timezone.now()
    return Job.objects.create(
        model_version=version, dataset=newer, reference_dataset=reference, kind="drift",
        status="succeeded", progress=100, attempts=1, started_at=now, finished_at=now,
        result={"verdict": verdict}, data_sha256=newer.sha256, reference_sha256=reference.sha256,
        created_by=version.created_by,
    )


def test_policies_accept_exactly_the_evidence_the_gates_judge():
    judged = {key for key, kind in gates.EVIDENCE.items() if kind.policy_may_require}
    assert set(evidence_kinds()) == judged
    for key in judged:
        rules = default_rules(2)
        rules["stages"]["production"]["evidence"].append(key)
        assert "stages.production.evidence" not in rules_errors(rules), key
    rules = default_rules(2)
    rules["stages"]["production"]["evidence"].append("not_prohibited")  # always judged, not asked
    rules["stages"]["staging"]["evidence"].append("vibes")
    errors = rules_errors(rules)
    assert "'vibes'" in " ".join(errors["stages.staging.evidence"])
    assert "'not_prohibited'" in " ".join(errors["stages.production.evidence"])


def test_a_policy_may_threshold_every_metric_a_fairness_job_computes():
    rules = default_rules(1)
    rules["fairness_thresholds"] = {m: {"max": 0.2} for m in FAIRNESS_METRICS}
    assert rules_errors(rules) == {}
    rules["fairness_thresholds"]["accuracy"] = {"min": 0.9}
    assert "fairness_thresholds.accuracy" in rules_errors(rules)


def test_a_tier_policy_can_require_a_drift_check_and_the_gate_judges_it(personas, make_ready):
    version = make_ready(tier=1)
    tier = version.model.risk_tier
    rules = default_rules(tier)
    rules["stages"]["staging"]["evidence"].append("drift")
    gov_services.tier_policy_publish(actor=personas["admin_user"], tier=tier, rules=rules)
    assert "drift" in gov_selectors.policy_for_tier(tier).rules["stages"]["staging"]["evidence"]

    def drift_item():
        report = gates.evaluate(version, "staging")
        return next(i for i in report.items if i["key"] == "drift"), report

    item, report = drift_item()
    assert (item["met"], item["label"]) == (False, "Drift check without alert")
    assert item["detail"] == "No drift job has run." and not report.passed

    data = _dataset(personas["engineer"])
    _drift_job(version, data, "drift")
    item, _ = drift_item()
    assert not item["met"] and item["detail"] == "Latest drift verdict: drift."

    calm = _drift_job(version, data, "stable")
    item, report = drift_item()
    assert item["met"] and item["job_id"] == calm.pk
    assert report.evidence["jobs"]["drift"] == calm.pk  # approvals are bound to it


def test_publishing_a_policy_naming_unjudgeable_evidence_is_refused(personas):
    rules = default_rules(3)
    rules["stages"]["production"]["evidence"].append("astrology")
    with pytest.raises(ValidationFailed) as exc:
        gov_services.tier_policy_publish(actor=personas["admin_user"], tier=3, rules=rules)
    assert "Unknown evidence 'astrology'" in " ".join(exc.value.errors["rules"])
