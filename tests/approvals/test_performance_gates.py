"""Tier 1 performance evidence: an evaluation dataset, performance figures and the code commit
are gates with their reasons; tier 1 requires them for production by default."""

from __future__ import annotations

import pytest

from approvals import gates
from governance import selectors as gov_selectors
from governance.policy import default_rules, rules_errors
from tests.approvals.conftest import succeeded_job

pytestmark = pytest.mark.django_db

PERFORMANCE = ("evaluation_dataset", "performance_metrics", "code_commit")


def _items(version, stage="production") -> dict:
    report = gates.evaluate(version, stage)
    return {i["key"]: i for i in report.items}, report


def test_tier_1_production_requires_performance_evidence_by_default():
    policy = gov_selectors.policy_for_tier(1)
    assert set(PERFORMANCE) <= set(policy.stage_rules("production")["evidence"])
    assert not set(PERFORMANCE) & set(gov_selectors.policy_for_tier(2).stage_rules(
        "production")["evidence"])
    assert rules_errors(default_rules(1)) == {}


def test_a_tier_1_version_without_performance_evidence_is_blocked_with_reasons(make_ready):
    version = make_ready(tier=1, performance=False)
    items, report = _items(version)
    assert not report.passed
    assert items["evaluation_dataset"]["met"] is False
    assert "evaluation_datasets" in items["evaluation_dataset"]["detail"]
    assert items["performance_metrics"]["met"] is False
    assert "no performance evidence" in items["performance_metrics"]["detail"]
    assert items["code_commit"]["met"] is False
    assert "code_commit" in items["code_commit"]["detail"]
    assert set(PERFORMANCE) <= {label_key for label_key in items if not items[label_key]["met"]}


def test_a_tier_1_version_with_performance_evidence_passes(make_ready):
    version = make_ready(tier=1)
    items, report = _items(version)
    assert report.passed, report.as_dict()["missing"]
    assert items["evaluation_dataset"]["detail"].startswith("Evaluated on loans@")
    assert "auc 0.81" in items["performance_metrics"]["detail"]
    assert "3f2c1e9a7b" in items["code_commit"]["detail"]
    assert report.evidence["code_commit"] == "3f2c1e9a7b"
    assert report.evidence["performance"]["metrics"] == {"accuracy": 0.77, "auc": 0.81}


def test_an_outcome_analysis_stands_in_for_recorded_metrics(make_ready):
    version = make_ready(tier=1, performance=False, fairness=False)
    from registry.models import DatasetVersion

    data = DatasetVersion.objects.get(dataset__name="loans")
    result = {"passed": True, "attributes": {}, "intersections": {},
              "outcomes": {"overall": {"accuracy": 0.812, "auc": 0.86, "count": 400}}}
    job = succeeded_job(version, data, "fairness", result)
    items, report = _items(version)
    assert items["performance_metrics"]["met"] is True
    assert f"job #{job.pk}" in items["performance_metrics"]["detail"]
    assert report.evidence["performance"]["outcome_job"] == job.pk


def test_staging_and_lower_tiers_do_not_ask_for_it(make_ready):
    version = make_ready(tier=1, performance=False)
    items, _ = _items(version, "staging")
    assert not set(PERFORMANCE) & set(items)


def test_the_policy_accepts_the_performance_keys_for_any_tier():
    rules = default_rules(3)
    rules["stages"]["staging"]["evidence"] += list(PERFORMANCE)
    assert rules_errors(rules) == {}
    rules["stages"]["staging"]["evidence"].append("benchmarks")
    assert "stages.staging.evidence" in rules_errors(rules)


def test_the_migration_publishes_tier_1s_next_version_asking_for_performance(personas):
    """An installed database whose tier 1 policy predates the rule gets a new version (the old
    one is kept, superseded); one that already asks for it is left alone."""
    import importlib

    from django.apps import apps

    from governance.models import TierPolicy

    migration = importlib.import_module("governance.migrations.0010_tier1_performance_evidence")
    current = TierPolicy.objects.get(tier=1, is_active=True)
    before = current.version
    migration.forwards(apps, None)
    assert TierPolicy.objects.get(tier=1, is_active=True).version == before  # already asks

    old = default_rules(1)
    old["stages"]["production"]["evidence"] = [
        k for k in old["stages"]["production"]["evidence"] if k not in PERFORMANCE]
    TierPolicy.objects.filter(pk=current.pk).update(is_active=False)
    TierPolicy.objects.create(tier=1, version=before + 1, is_active=True, rules=old)
    migration.forwards(apps, None)
    active = TierPolicy.objects.get(tier=1, is_active=True)
    assert active.version == before + 2
    assert active.rules["stages"]["production"]["evidence"][-3:] == list(PERFORMANCE)
    assert "performance evidence" in active.notes
    assert TierPolicy.objects.filter(tier=1, version=before + 1, is_active=False).exists()


def test_the_follow_up_migration_audits_the_version_0010_published(personas):
    """0010 published tier 1's next policy version without an audit event; 0011 records it
    (once), in the log's canonical form, so sealing and full verification cover it."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    from governance import audit
    from governance.auditlog.sealer import seal
    from governance.models import AuditEvent, TierPolicy

    publish = importlib.import_module("governance.migrations.0010_tier1_performance_evidence")
    follow_up = importlib.import_module("governance.migrations.0011_audit_tier1_performance_policy")
    current = TierPolicy.objects.get(tier=1, is_active=True)
    old = default_rules(1)
    old["stages"]["production"]["evidence"] = [
        k for k in old["stages"]["production"]["evidence"] if k not in PERFORMANCE]
    TierPolicy.objects.filter(pk=current.pk).update(is_active=False)
    TierPolicy.objects.create(tier=1, version=current.version + 1, is_active=True, rules=old)
    publish.forwards(apps, None)  # what an installation upgraded through 0010 got: no event
    published = TierPolicy.objects.get(tier=1, is_active=True)
    assert not AuditEvent.objects.filter(object_type="governance.tierpolicy",
                                         object_id=str(published.pk)).exists()

    editor = SimpleNamespace(connection=connection)
    follow_up.forwards(apps, editor)
    follow_up.forwards(apps, editor)  # a second run writes nothing more
    events = AuditEvent.objects.filter(action="governance.policy.published",
                                       object_id=str(published.pk))
    assert events.count() == 1
    event = events.get()
    assert event.actor_name == "system" and event.object_repr == f"Tier 1 policy v{published.version}"
    assert event.payload["after"]["version"] == published.version
    assert event.payload["before"]["version"] == current.version + 1
    assert event.payload["source"] == "migration governance.0010_tier1_performance_evidence"
    assert event.body == audit.event_body(event)
    seal()
    result = audit.verify_chain()
    assert result.ok, result
