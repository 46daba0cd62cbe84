"""The compliance pages: the matrix of a version (frameworks x status) with drill-down to each
obligation's evidence, its block on the version page, the inventory's badge for a model whose
current version meets every obligation of a framework (without per-row queries), and the
documentation pack's compliance section."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals import compliance, services
from explainability.models import Job
from governance.auditlog.sealer import seal
from oversight import services as ov_services
from oversight.services import findings as finding_services
from oversight.services import risk as risk_services
from tests import factories
from tests.approvals.conftest import PASSING_FAIRNESS, complete_documentation, succeeded_job
from tests.governance.helpers import CREDIT_ANSWERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(personas):
    eng = personas["engineer"]
    model = factories.model(eng, owner="owner", developers=["engineer"], intended_use="Loans.")
    return factories.version(eng, model)


def _cells(html: str, framework: str) -> dict[str, str]:
    row = re.search(rf'<tr data-framework="{framework}">(.*?)</tr>', html, re.S).group(1)
    return dict(re.findall(r'data-status="(\w+)">(?:<a [^>]*>)?(\d+)', row))


def test_the_matrix_shows_every_framework_with_the_evaluators_counts(version, web_for):
    response = web_for("auditor").get("/models/credit-default/v1/compliance/")
    assert response.status_code == 200
    html = response.content.decode()
    report = compliance.evaluate(version)
    for f in report["frameworks"]:
        counts = {k: str(v) for k, v in f["counts"].items()}
        assert _cells(html, f["framework"]) == counts, f["framework"]
    # Without ?framework every framework's obligations are listed below the matrix.
    assert html.count('data-testid="obligations-') == 5


def test_drilling_down_to_a_framework_shows_its_obligations_evidence_and_what_to_do(version, web_for):
    html = web_for("engineer").get("/models/credit-default/v1/compliance/?framework=ss1-23").content.decode()
    assert html.count('data-testid="obligations-') == 1
    row = re.search(r'<tr id="ob-ss1-23-p1-inventory".*?</tr>', html, re.S).group(0)
    assert 'data-status="met"' in row and "Owned by owner." in row and "sha256" in row
    tiering = re.search(r'<tr id="ob-ss1-23-p1-tiering".*?</tr>', html, re.S).group(0)
    assert 'data-status="missing"' in tiering
    assert "Complete the risk assessment questionnaire (Risk on the model page)." in tiering
    assert 'href="/models/credit-default/risk/"' in tiering


def test_an_unknown_framework_is_refused_naming_the_valid_ones(version, web_for):
    response = web_for("engineer").get("/models/credit-default/v1/compliance/?framework=gdpr")
    assert response.status_code == 400
    assert "framework must be one of eu-ai-act, sr11-7, ss1-23, nist-ai-rmf, iso-42001" in (
        response.content.decode())


def test_the_version_page_links_to_the_matrix(version, web_for):
    html = web_for("engineer").get("/models/credit-default/v1/").content.decode()
    assert 'data-testid="compliance-summary"' in html
    assert 'href="/models/credit-default/v1/compliance/"' in html


def test_another_team_cannot_open_the_matrix(version, web_for):
    assert web_for("other_engineer").get("/models/credit-default/v1/compliance/").status_code == 404


def test_the_documentation_pack_has_a_compliance_section(version, client_for):
    response = client_for("auditor").get(
        "/api/v1/models/credit-default/versions/1/documentation-pack/?format=html")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h2>Regulatory compliance</h2>" in html
    assert "<strong>[met]</strong> <strong>Principle 1.2 Model inventory</strong>" in html
    assert "<strong>[missing]</strong> <strong>Principle 1.3 Model risk tiering</strong>" in html
    assert "To do: Complete the risk assessment questionnaire" in html
    assert "Annex IV 2(h) Cybersecurity measures" in html
    # The evidence's hash is printed beside it (the model's intended use, as registered).
    assert f"[{hashlib.sha256(b'Loans.').hexdigest()[:16]}]" in html


# --- the inventory's badge ----------------------------------------------------------------------


def _compliant(personas, name: str):
    """A version with every SR 11-7 evidence: facts, lineage, documents signed off, jobs on its
    artifact, a use restriction, promoted to production (which schedules the review)."""
    eng, owner = personas["engineer"], personas["owner"]
    model = factories.model(eng, name=name, owner="owner", developers=["engineer"],
                            intended_use="Score loan applications.")
    train = factories.dataset_version(eng, factories.dataset(eng, name=f"{name}-train"))
    holdout = factories.dataset_version(eng, factories.dataset(eng, name=f"{name}-holdout"))
    version = factories.version(eng, model, training_datasets=[train.ref],
                                evaluation_datasets=[holdout.ref], metrics={"auc": 0.8},
                                code_commit="4f1c2e9")
    risk_services.risk_assessment_create(actor=owner, model=model, answers=CREDIT_ANSWERS)
    ov_services.use_restriction_add(actor=owner, model=model, kind="prohibited_use",
                                    text="Not for mortgage decisions.")
    version.refresh_from_db()
    complete_documentation(version, owner, eng)
    succeeded_job(version, holdout, "shap")
    succeeded_job(version, holdout, "fairness", PASSING_FAIRNESS)
    Job.objects.create(model_version=version, dataset=holdout, reference_dataset=train,
                       kind="drift", status="succeeded", progress=100, attempts=1,
                       started_at=version.created_at, finished_at=version.created_at,
                       result={"verdict": "no_drift"}, artifact_sha256=version.artifact_sha256)
    req = services.promotion_request_open(actor=eng, version=version, target_stage="production",
                                          justification="ready")
    for who, role in [("validator", "validator"), ("compliance", "compliance"),
                      ("business", "business_approver")]:
        req = services.promotion_decide(actor=personas[who], request_id=req.pk,
                                        decision="approve", role=role, comment="ok")
    assert req.state == "executed", req.state_reason
    return type(version).objects.select_related("model__owner").get(pk=version.pk)


def test_a_model_shows_a_badge_only_for_a_framework_whose_obligations_are_all_met(
        personas, web_for):
    compliant = _compliant(personas, "credit-default")
    bare = factories.version(personas["engineer"], factories.model(personas["engineer"], name="bare"))
    seal()
    report = compliance.evaluate(compliant, framework="sr11-7")["frameworks"][0]
    assert report["all_met"], [o for o in report["obligations"] if o["status"] != "met"]
    html = web_for("auditor").get("/models/").content.decode()
    rows = {m.group(1): m.group(0) for m in re.finditer(
        r'<tr>\s*<td><a href="/models/([\w-]+)/">.*?</tr>', html, re.S)}
    assert 'data-testid="badge-sr11-7"' in rows["credit-default"]
    # The EU AI Act's obligations are not all met (no monitoring plan): no badge for it.
    assert 'data-testid="badge-eu-ai-act"' not in rows["credit-default"]
    assert "SR 11-7 ✓" in rows["credit-default"]
    assert "data-testid=\"badge-" not in rows[bare.model.name]
    # A high finding on the model takes the badge away.
    finding_services.finding_open(actor=personas["validator"], model=compliant.model,
                                  title="Unstable on thin files", severity="high")
    html = web_for("auditor").get("/models/").content.decode()
    assert 'data-testid="badge-sr11-7"' not in html


def test_the_inventory_judges_its_page_without_a_query_per_model(personas, web_for):
    eng = personas["engineer"]
    for i in range(2):
        factories.version(eng, factories.model(eng, name=f"m-{i}"))
    client = web_for("auditor")
    client.get("/models/")
    with CaptureQueriesContext(connection) as small:
        assert client.get("/models/").status_code == 200
    for i in range(2, 8):
        factories.version(eng, factories.model(eng, name=f"m-{i}", owner="owner"))
    with CaptureQueriesContext(connection) as large:
        assert client.get("/models/").status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
