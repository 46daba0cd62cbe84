"""Fixtures that make a version genuinely ready for promotion: risk assessed, documentation
complete and signed off by the owner, succeeded SHAP and passing fairness jobs on its artifact."""

from __future__ import annotations

import pytest
from django.utils import timezone

from explainability.models import Job
from governance import selectors as gov_selectors
from oversight import selectors as ov_selectors
from oversight.services import documents as doc_services
from oversight.services import risk as risk_services
from tests import factories
from tests.governance.helpers import CREDIT_ANSWERS, LOW_ANSWERS

PASSING_FAIRNESS = {
    "passed": True,
    "attributes": {"sex": {"groups": [], "metrics": {
        "demographic_parity_difference": {"value": 0.03, "threshold": {"max": 0.1}, "passed": True},
        "disparate_impact_ratio": {"value": 0.93, "threshold": {"min": 0.8}, "passed": True},
        "equalized_odds_difference": {"value": 0.04, "threshold": {"max": 0.1}, "passed": True},
    }}},
    "intersections": {}, "warnings": [], "population": {"rows": 400},
}


def succeeded_job(version, dataset_version, kind: str, result: dict | None = None) -> Job:
    now = timezone.now()
    return Job.objects.create(
        model_version=version, dataset=dataset_version, kind=kind, status="succeeded",
        progress=100, attempts=1, started_at=now, finished_at=now,
        result=result or {"explainer": "linear", "feature_importance": [], "rows_explained": 10},
        artifact_sha256=version.artifact_sha256, data_sha256=dataset_version.sha256,
        created_by=version.created_by,
    )


def complete_documentation(version, owner, engineer) -> None:
    policy = gov_selectors.policy_for_tier(version.model.risk_tier)
    for slug in policy.rules["required_document_sections"]:
        doc = doc_services.document_create(actor=engineer, version=version, template_slug=slug)
        for key in ov_selectors.document_required_sections(doc):
            doc_services.document_section_save(
                actor=engineer, document=doc, section_key=key, text=f"Written account of {key}."
            )
        doc.refresh_from_db()
        doc_services.document_sign_off(actor=owner, document=doc)


@pytest.fixture
def make_ready(personas):
    """make_ready(tier=1) → a registered version of 'credit-default' with all evidence."""

    def _make(*, tier: int = 1, name: str = "credit-default", documentation: bool = True,
              shap: bool = True, fairness: bool = True, performance: bool = True):
        owner, engineer = personas["owner"], personas["engineer"]
        model = factories.team("credit") and factories.model(
            owner, name=name, owner="owner", developers=["engineer"]
        ) if not _exists(name) else _get(name)
        ds = _dataset(engineer)
        # Tier 1's performance evidence: evaluation data, metrics and the training commit.
        extra = {"evaluation_datasets": [ds.ref], "metrics": {"auc": 0.81, "accuracy": 0.77},
                 "code_commit": "3f2c1e9a7b"} if performance else {}
        version = factories.version(engineer, model, training_datasets=[ds.ref], **extra)
        answers = CREDIT_ANSWERS if tier == 1 else LOW_ANSWERS
        if model.risk_tier is None:
            risk_services.risk_assessment_create(actor=owner, model=model, answers=answers)
        model.refresh_from_db()
        version.refresh_from_db()
        if documentation:
            complete_documentation(version, owner, engineer)
        if shap:
            succeeded_job(version, ds, "shap")
        if fairness:
            succeeded_job(version, ds, "fairness", PASSING_FAIRNESS)
        return version

    return _make


def _exists(name):
    from registry.models import RegisteredModel

    return RegisteredModel.objects.filter(name=name).exists()


def _get(name):
    from registry.models import RegisteredModel

    return RegisteredModel.objects.get(name=name)


def _dataset(engineer):
    from registry.models import DatasetVersion

    found = DatasetVersion.objects.filter(dataset__name="loans").first()
    if found:
        return found
    return factories.dataset_version(engineer, factories.dataset(engineer, name="loans"))


@pytest.fixture
def rechecks(monkeypatch):
    """The re-checks sent to workers after evidence changed (model names, in order); each is run
    here in-process, as a worker would, so the test sees its outcome."""
    from approvals import tasks

    sent: list[str] = []

    def delay(model_name: str):
        sent.append(model_name)
        return tasks.recheck_promotions.apply(args=(model_name,))

    monkeypatch.setattr(tasks.recheck_promotions, "delay", delay)
    return sent
