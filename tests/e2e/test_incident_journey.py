"""The incident journey in a real browser (EU AI Act Art. 73): a serious incident is reported on
a production model, a promotion of that model's next version is blocked with the incident named
as the reason, the incident is investigated, reported to the authority and closed, and the held
promotion then executes. Screenshots under var/screenshots/4-*."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from approvals import services as approvals
from approvals.models import PromotionRequest
from oversight.models import Incident
from registry.models import ModelVersion
from tests import factories
from tests.e2e.conftest import publish_policy
from tests.e2e.test_journeys import EVIDENCE, ROLES_TIER_1, _assess_tier_1

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_serious_incident_blocks_promotion_until_closed(portal, personas):
    publish_policy(personas["admin_user"], tier=1, production_roles=ROLES_TIER_1, evidence=EVIDENCE)
    eng = personas["engineer"]
    loans = factories.dataset_version(eng, factories.dataset(eng, name="loans"))
    model = factories.model(eng, name="credit-default", owner="owner", developers=["engineer"])
    v1 = factories.version(eng, model, training_datasets=[loans.ref], metrics={"auc": 0.8})
    ModelVersion.objects.filter(pk=v1.pk).update(stage="production")  # on the market already
    factories.version(eng, model, training_datasets=[loans.ref], metrics={"auc": 0.82})
    _assess_tier_1(personas, model)
    page = portal.page
    now = timezone.now()

    # 1. The engineer reports a serious incident from the model page.
    portal.sign_in("engineer")
    page.goto("/models/credit-default/")
    page.click("[data-testid=report-incident]")
    page.fill("#id_title", "Applicants wrongly refused")
    page.fill("#id_description", "A cut-off error in v1 refused 40 eligible applicants.")
    page.fill("#id_occurred_at", _local(now - dt.timedelta(hours=5)))
    page.fill("#id_became_known_at", _local(now - dt.timedelta(hours=2)))
    page.select_option("#id_version", "1")
    page.fill("#id_affected_persons", "40")
    page.check("#id_serious")
    page.select_option("#id_seriousness", "serious-harm")
    page.click("[data-testid=incident-form] button[type=submit]")
    expect(page.locator("[data-testid=incident-status]")).to_contain_text("Reported")
    expect(page.locator("[data-testid=incident-deadline]")).to_contain_text("15 days after it became known")
    expect(page.locator("[data-testid=incident-blocks]")).to_be_visible()
    incident = Incident.objects.get()
    incident_url = page.url
    portal.shot("4-incident-reported")
    portal.sign_out()

    # 2. The owner asks to promote v2: the readiness and the request name the incident.
    portal.sign_in("owner")
    page.goto("/models/credit-default/")
    expect(page.locator("[data-testid=model-incidents]")).to_contain_text("Applicants wrongly refused")
    page.goto("/models/credit-default/v2/")
    readiness = page.locator("[data-testid=readiness-production]")
    expect(readiness).to_contain_text("gates missing")
    expect(readiness.locator("li.unmet")).to_contain_text(
        f"#{incident.pk} Applicants wrongly refused")
    page.select_option("#id_target_stage", "production")
    page.fill("#id_justification", "Fixes the cut-off; better AUC.")
    page.click("[data-testid=request-form] button[type=submit]")
    expect(page.locator("[data-testid=request-state]")).to_contain_text("Open")
    request_url = page.url
    req = PromotionRequest.objects.get()
    for who in ROLES_TIER_1:
        approvals.promotion_decide(actor=personas[who], request_id=req.pk, decision="approve",
                                   role=who, comment="ok")
    page.goto(request_url)
    expect(page.locator("[data-testid=request-state]")).to_contain_text("Approved")
    blocked = page.locator("[data-testid=gates] li.unmet")
    expect(blocked).to_contain_text("No open serious incident")
    expect(blocked).to_contain_text(f"#{incident.pk} Applicants wrongly refused")
    page.click("[data-testid=execute]")
    expect(page.locator(".messages")).to_contain_text("Close the incident before promoting")
    expect(page.locator("[data-testid=request-state]")).to_contain_text("Approved")
    portal.shot("4-promotion-blocked-by-incident")
    portal.sign_out()

    # 3. Compliance investigates, reports to the authority and closes the incident.
    portal.sign_in("compliance")
    page.goto(incident_url)
    for status, extra in (("investigating", {}),
                          ("reported_to_authority", {"#id_authority_reference": "MSA-2026-0412"}),
                          ("closed", {"#id_resolution": "Cut-off corrected in v2; the 40 applicants re-scored."})):
        page.select_option("#id_to_status", status)
        for selector, value in extra.items():
            page.fill(selector, value)
        page.click("[data-testid=incident-transition-form] button[type=submit]")
        expect(page.locator(".messages")).to_contain_text(f"Incident #{incident.pk} is now")
    expect(page.locator("[data-testid=incident-status]")).to_contain_text("Closed")
    expect(page.locator("[data-testid=incident-blocks]")).to_have_count(0)
    portal.shot("4-incident-closed")
    portal.sign_out()

    # 4. The held promotion now executes.
    portal.sign_in("owner")
    page.goto(request_url)
    page.click("[data-testid=execute]")
    expect(page.locator("[data-testid=request-state]")).to_contain_text("Executed")
    page.goto("/models/credit-default/v2/")
    expect(page.locator("[data-testid=version-stage]")).to_contain_text("Production")
    portal.shot("4-promotion-executed")
