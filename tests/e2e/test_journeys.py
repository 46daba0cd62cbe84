"""The portal's three journeys in a real browser (headless Chromium) against a live server:

1. an engineer registers a version through the API, starts a SHAP job in the portal and sees the
   plots appear on the version page (a real Celery worker computes them);
2. a validator and a compliance officer approve a tier-1 promotion in the portal, and the version
   shows as production;
3. an auditor traces a dataset to the production model and verifies the audit chain;
4. an engineer tries the attribute-dropping move (a fairness job over only one of the dataset's
   two sensitive attributes) and the readiness checklist refuses it, naming what was left out.

Screenshots of the key pages are saved under var/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from approvals import services as approvals
from governance import services as gov
from governance.choices import Role
from oversight import risk
from oversight import services as ov_services
from registry.models import ModelVersion
from tests import factories
from tests.e2e.conftest import publish_policy
from tests.integration import jobdata

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROLES_TIER_1 = ["validator", "compliance"]
EVIDENCE = ["risk_assessment", "no_open_high_findings"]


def _answers() -> dict:
    return {q.key: q.options[0][0] for q in risk.QUESTIONS}


def _assess_tier_1(personas, model) -> None:
    assessment = ov_services.risk_assessment_create(actor=personas["owner"], model=model, answers=_answers())
    ov_services.risk_assessment_override(
        actor=personas["validator2"], assessment=assessment, tier=1,
        justification="Automated decisions on retail credit: tier 1.",
    )


@pytest.mark.integration
def test_engineer_registers_through_the_api_and_sees_shap_plots(
    portal, personas, start_worker, job_done
):
    eng = personas["engineer"]
    df = jobdata.credit(n=300)
    data = jobdata.upload_dataset(eng, df, name="applications")
    factories.model(eng, name="credit-pd", owner="owner", developers=["engineer"])
    _, key = gov.token_create(user=eng)
    worker = start_worker()

    api = portal.context.request
    response = api.post(
        "/api/v1/models/credit-pd/versions/",
        headers={"Authorization": f"Token {key}"},
        multipart={
            "artifact": {"name": "credit-pd.skops", "mimeType": "application/octet-stream",
                         "buffer": __import__("skops.io").io.dumps(jobdata.fit("logreg", df))},
            "framework": "scikit-learn",
            "training_datasets": data.ref,
            "signature": json.dumps(jobdata.demo.signature(jobdata.FEATURES)),
            "metrics": json.dumps({"auc": 0.71}),
        },
    )
    assert response.status == 201, response.text()
    assert response.json()["version"] == 1

    page = portal.page
    portal.sign_in("engineer")
    page.goto("/models/credit-pd/v1/")
    expect(page.get_by_text("No SHAP explanation yet.")).to_be_visible()
    page.select_option("#id_kind", "shap")
    page.select_option("#id_dataset", label=data.ref)
    page.click("[data-testid=job-start-form] button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("job #")
    portal.shot("1-version-job-queued")
    job_id = ModelVersion.objects.get(model__name="credit-pd").jobs.get().pk
    job_done(job_id, timeout=240, workers=[worker])
    # The status fragment polls every 2 s and reloads the page when the job finishes.
    bar = page.locator("[data-testid=shap-bar]")
    expect(bar).to_be_visible(timeout=30_000)
    assert page.evaluate("document.querySelector('[data-testid=shap-bar]').naturalWidth") > 0
    assert page.evaluate("document.querySelector('[data-testid=shap-beeswarm]').naturalWidth") > 0
    expect(page.locator("[data-testid=top-features]")).to_contain_text("debt_ratio")
    expect(page.locator(f"[data-testid=job-status-{job_id}]")).to_contain_text("Succeeded")
    portal.shot("1-version-shap-plots")
    portal.shot("1-version-shap-plots-narrow", narrow=True)


def test_validator_and_compliance_approve_a_tier_1_promotion(portal, personas):
    publish_policy(personas["admin_user"], tier=1, production_roles=ROLES_TIER_1, evidence=EVIDENCE)
    eng = personas["engineer"]
    loans = factories.dataset_version(eng, factories.dataset(eng, name="loans"))
    model = factories.model(eng, name="credit-default", owner="owner", developers=["engineer"])
    factories.version(eng, model, training_datasets=[loans.ref], metrics={"auc": 0.8})
    _assess_tier_1(personas, model)
    page = portal.page

    portal.sign_in("owner")
    page.goto("/models/credit-default/v1/")
    expect(page.locator("[data-testid=readiness-production]")).to_contain_text("all gates met")
    page.select_option("#id_target_stage", "production")
    page.fill("#id_justification", "Beats the scorecard on AUC; validated on the 2026 holdout.")
    page.click("[data-testid=request-form] button[type=submit]")
    expect(page.locator("[data-testid=request-state]")).to_contain_text("Open")
    expect(page.locator("[data-testid=approve]")).to_have_count(0)  # never on your own request
    request_url = page.url
    portal.shot("2-request-as-requester")
    portal.sign_out()

    due = (timezone.localdate() + dt.timedelta(days=90)).isoformat()
    for who, role in (("validator", "validator"), ("compliance", "compliance")):
        portal.sign_in(who)
        if who == "validator":
            # The in-app notification (unread count in the nav) leads to the request.
            expect(page.locator("[data-testid=unread-count]")).to_be_visible()
            page.click("[data-testid=nav-notifications]")
            row = page.locator("[data-testid=notifications] tr", has_text="Approval needed: credit-default@1")
            portal.shot("2-notifications-validator")
            row.get_by_role("button", name="Open").click()
            portal.shot("2-request-as-validator")
        else:
            page.click("nav >> text=Inbox")
            page.click(f"[data-testid=inbox] a[href='{request_url.removeprefix(portal.url)}']")
            page.fill("#id_cond-0-text", "Re-run the fairness analysis on Q3 decisions.")
            page.fill("#id_cond-0-due_date", due)
        assert page.url == request_url
        page.select_option("#id_role", role)
        page.fill("#id_comment", f"Approved by {who}.")
        page.click("[data-testid=approve]")
        # The message names the role by its label ("approve as Validator (model risk officer)").
        expect(page.locator(".messages")).to_contain_text(f"approve as {dict(Role.choices)[role]}")
        portal.sign_out()

    # The requester meets the condition attached to the approval, saying how.
    portal.sign_in("owner")
    page.goto(request_url)
    condition = page.locator("[data-testid=conditions] tr", has_text="Re-run the fairness analysis")
    condition.locator("textarea").fill("Q3 fairness job #12 within thresholds.")
    condition.get_by_role("button", name="Mark met").click()
    expect(page.locator(".messages")).to_contain_text("Condition met")
    expect(page.locator("[data-testid=conditions]")).to_contain_text("Q3 fairness job #12 within thresholds.")
    portal.sign_out()

    portal.sign_in("auditor")
    page.goto(request_url)
    expect(page.locator("[data-testid=request-state]")).to_contain_text("Executed")
    expect(page.locator("[data-testid=decisions]")).to_contain_text("Approved by compliance.")
    page.click("h1 a")  # the version
    expect(page.locator("[data-testid=version-stage]")).to_contain_text("Production")
    portal.shot("2-version-in-production")


def test_auditor_traces_a_dataset_to_the_production_model_and_verifies_the_chain(portal, personas):
    publish_policy(personas["admin_user"], tier=1, production_roles=ROLES_TIER_1, evidence=EVIDENCE)
    eng = personas["engineer"]
    loans = factories.dataset_version(eng, factories.dataset(eng, name="loans"))
    base = factories.model(eng, name="credit-default", owner="owner", developers=["engineer"])
    v1 = factories.version(eng, base, training_datasets=[loans.ref])
    challenger = factories.model(eng, name="credit-challenger", owner="owner")
    factories.version(eng, challenger, parents=[v1.ref])
    _assess_tier_1(personas, base)
    req = approvals.promotion_request_open(
        actor=personas["owner"], version=v1, target_stage="production", justification="Ready."
    )
    for who in ROLES_TIER_1:
        approvals.promotion_decide(actor=personas[who], request_id=req.pk, decision="approve", role=who)
    page = portal.page

    portal.sign_in("auditor")
    page.click("nav >> text=Lineage")
    page.select_option("#pick-dataset", "dataset:loans@1")
    page.click("text=Trace downstream (any depth)")
    table = page.locator("[data-testid=lineage-models]")
    expect(table).to_contain_text("credit-default@1")
    expect(table).to_contain_text("credit-challenger@1")
    expect(table.locator("tr", has_text="credit-default@1")).to_contain_text("Production")
    expect(page.locator("form[method=post]:not([action='/accounts/logout/'])")).to_have_count(0)
    portal.shot("3-lineage-explorer")
    page.click("[data-testid=lineage-graph] a[data-node='model:credit-default@1']")
    expect(page.locator("[data-testid=version-stage]")).to_contain_text("Production")
    portal.shot("3-version-page-auditor")

    page.click("nav >> text=Production on date")
    expect(page.locator("[data-testid=production-on]")).to_contain_text("credit-default@1")

    page.click("nav >> text=Audit log")
    page.click("[data-testid=verify-chain]")
    status = page.locator("[data-testid=chain-status]")
    expect(status).to_contain_text("Audit log intact.")
    expect(page.locator("[data-testid=export-links]")).to_be_visible()
    portal.shot("3-audit-log-verified")
    portal.shot("3-audit-log-narrow", narrow=True)


@pytest.mark.integration
def test_a_fairness_job_that_drops_an_attribute_is_refused_in_the_checklist(
    portal, personas, start_worker, job_done
):
    publish_policy(personas["admin_user"], tier=1, production_roles=ROLES_TIER_1,
                   evidence=["fairness"])
    eng = personas["engineer"]
    df = jobdata.credit(n=400)
    data = jobdata.upload_dataset(eng, df, name="applications", sensitive=("sex", "age_band"))
    model = factories.model(eng, name="credit-pd", owner="owner", developers=["engineer"])
    jobdata.register(eng, jobdata.fit("logreg", df), training=data)
    _assess_tier_1(personas, model)
    worker = start_worker()

    page = portal.page
    portal.sign_in("engineer")
    page.goto("/models/credit-pd/v1/")
    # The move: a fairness job over sex only, leaving out age_band (which the dataset declares).
    page.select_option("#id_kind", "fairness")
    page.select_option("#id_dataset", label=data.ref)
    page.fill("#id_label_column", "default")
    page.fill("#id_sensitive_attributes", "sex")
    page.click("[data-testid=job-start-form] button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("job #")
    job = ModelVersion.objects.get(model__name="credit-pd").jobs.get()
    job_done(job.pk, timeout=240, workers=[worker])
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message
    assert set(job.result["attributes"]) == {"sex"}

    page.goto("/models/credit-pd/v1/")
    readiness = page.locator("[data-testid=readiness-production]")
    expect(readiness).to_contain_text("gates missing")
    fairness = readiness.locator("li[data-gate=fairness]")
    expect(fairness).to_contain_text("(not met)")
    expect(fairness).to_contain_text(f"Job #{job.pk} tested sex but not age_band")
    expect(fairness).to_contain_text(f"dataset {data.ref} declares sensitive")
    expect(fairness.locator("[data-testid=fairness-coverage]")).to_contain_text(
        "Attributes required: sex, age_band · tested: sex · missing: age_band")
    portal.shot("4-fairness-gate-refuses-a-dropped-attribute")

    # Asking for the promotion anyway: the request records the refusal in its checklist.
    page.select_option("#id_target_stage", "production")
    page.fill("#id_justification", "Fairness checked.")
    page.click("[data-testid=request-form] button[type=submit]")
    expect(page.locator("[data-testid=request-state]")).to_contain_text("Open")
    expect(page.locator("li[data-gate=fairness]").first).to_contain_text("not age_band")
