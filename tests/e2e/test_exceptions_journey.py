"""Use restrictions and a policy exception in a real browser: the owner records the model's
restrictions (shown on each of its pages), asks to waive the missing SHAP gate, a validator and a
compliance officer approve the waiver, the readiness checklist shows the gate waived, and the
register lists it as active."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import publish_policy
from tests.e2e.test_journeys import _assess_tier_1

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_owner_records_restrictions_and_a_waiver_is_approved(portal, personas):
    policy = publish_policy(personas["admin_user"], tier=1, production_roles=["validator"],
                            evidence=["risk_assessment", "shap"])
    assert policy.rules["exception_approver_roles"] == ["validator", "compliance"]
    eng = personas["engineer"]
    model = factories.model(eng, name="credit-default", owner="owner", developers=["engineer"])
    factories.version(eng, model, metrics={"auc": 0.8})
    _assess_tier_1(personas, model)
    page = portal.page

    portal.sign_in("owner")
    page.goto("/models/credit-default/")
    form = page.locator("[data-testid=use-restriction-form]")
    form.locator("#id_kind").select_option("prohibited_use")
    form.locator("#id_text").fill("Never for marketing eligibility.")
    form.get_by_role("button", name="Record restriction").click()
    expect(page.locator(".messages")).to_contain_text("recorded")
    page.goto("/models/credit-default/v1/")
    expect(page.locator("[data-testid=use-restrictions-banner]")).to_contain_text(
        "Never for marketing eligibility.")
    expect(page.locator("[data-testid=readiness-production]")).to_contain_text("gates missing")
    page.click("[data-testid=request-exception]")
    page.select_option("#id_gate", "shap")
    page.fill("#id_reason", "The SHAP runner cannot load this artifact format yet.")
    page.fill("#id_compensating_controls", "Validator reviews feature effects by hand.")
    page.fill("#id_expires_on", (timezone.localdate() + dt.timedelta(days=30)).isoformat())
    page.click("[data-testid=exception-request-form] button[type=submit]")
    expect(page.locator("[data-testid=exception-state]")).to_contain_text("requested")
    exception_url = page.url
    portal.shot("exception-requested")
    portal.sign_out()

    for who in ("validator", "compliance"):
        portal.sign_in(who)
        page.goto(exception_url)
        page.select_option("#id_role", who)
        page.select_option("#id_decision", "approve")
        page.click("[data-testid=exception-decide-form] button[type=submit]")
        expect(page.locator(".messages")).to_contain_text("Decision recorded")
        portal.sign_out()

    portal.sign_in("auditor")
    page.goto(exception_url)
    expect(page.locator("[data-testid=exception-state]")).to_contain_text("active")
    page.goto("/models/credit-default/v1/")
    waived = page.locator("[data-testid=readiness-production] [data-testid=gate-waived]")
    expect(waived).to_contain_text("Waived by exception #")
    expect(page.locator("[data-testid=readiness-production]")).to_contain_text("all gates met")
    page.click("nav >> text=Exceptions")
    expect(page.locator("[data-testid=exception-row]")).to_have_count(1)
    expect(page.locator("[data-testid=exception-row]")).to_contain_text("credit-default@1")
    portal.shot("exceptions-register")
