"""Use restrictions are shown on every page of their model, expired ones as expired; the model
page records and withdraws them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from approvals import services as approvals
from explainability import services as jobs
from oversight import risk
from oversight import services as ov
from oversight.models import UseRestriction

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(registry, personas, monkeypatch):
    """Every kind of page about credit-default, with a restriction in force and an expired one."""
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: None)
    model, v1 = registry["base"], registry["v1"]
    owner = personas["owner"]
    ov.use_restriction_add(actor=owner, model=model, kind="prohibited_use",
                           text="Never for marketing eligibility")
    expired = ov.use_restriction_add(actor=owner, model=model, kind="geography", text="UK only",
                                     expires_on=timezone.localdate())
    UseRestriction.objects.filter(pk=expired.pk).update(
        expires_on=timezone.localdate() - dt.timedelta(days=1))
    ov.risk_assessment_create(actor=owner, model=model,
                              answers={q.key: q.options[0][0] for q in risk.QUESTIONS})
    doc = ov.document_create(actor=personas["engineer"], version=v1, template_slug="sr11-7")
    finding = ov.finding_open(actor=personas["validator"], model=model, title="Thin data",
                              severity="low")
    job = jobs.job_start(actor=personas["engineer"], version=v1, kind="shap",
                         dataset=registry["loans"])
    req = approvals.promotion_request_open(actor=owner, version=v1, target_stage="staging",
                                           justification="j")
    return [
        f"/models/{model.name}/", f"/models/{model.name}/v1/", f"/models/{model.name}/risk/",
        f"/documents/{doc.pk}/", f"/documents/{doc.pk}/revisions/", f"/findings/{finding.pk}/",
        f"/models/{model.name}/findings/new/", f"/jobs/{job.pk}/", f"/promotions/{req.pk}/",
    ]


def test_restrictions_are_on_every_page_of_the_model(web_for, pages):
    client = web_for("validator")
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'data-testid="use-restrictions-banner"' in html, url
        assert "Never for marketing eligibility" in html, url
        assert 'data-testid="restriction-expired"' in html and "UK only" in html, url


def test_pages_of_other_models_show_no_banner(web_for, pages, registry):
    html = web_for("validator").get(f"/models/{registry['challenger'].name}/").content.decode()
    assert "use-restrictions-banner" not in html
    assert "Never for marketing eligibility" not in html


def test_model_page_records_and_withdraws_restrictions(web_for, registry):
    owner = web_for("owner")
    url = f"/models/{registry['base'].name}/use-restrictions/"
    response = owner.post(url, {"kind": "population", "text": "Adults 18+ only",
                                "expires_on": ""})
    assert response.status_code == 302
    r = UseRestriction.objects.get()
    page = owner.get(f"/models/{registry['base'].name}/").content.decode()
    assert 'data-testid="use-restriction-form"' in page and "Adults 18+ only" in page
    response = owner.post(f"{url}{r.pk}/withdraw/", {"reason": "Superseded by policy"})
    assert response.status_code == 302
    r.refresh_from_db()
    assert r.withdrawn_reason == "Superseded by policy"
    # withdrawn: no banner, but the model page keeps the row, marked withdrawn
    page = owner.get(f"/models/{registry['base'].name}/").content.decode()
    assert "use-restrictions-banner" not in page and "withdrawn" in page


def test_auditors_see_restrictions_but_no_form_and_cannot_post(web_for, registry, personas):
    ov.use_restriction_add(actor=personas["owner"], model=registry["base"], kind="allowed_use",
                           text="Retail credit decisions")
    auditor = web_for("auditor")
    page = auditor.get(f"/models/{registry['base'].name}/").content.decode()
    assert "Retail credit decisions" in page and "use-restriction-form" not in page
    response = auditor.post(f"/models/{registry['base'].name}/use-restrictions/",
                            {"kind": "geography", "text": "EU"})
    assert response.status_code == 403
    assert UseRestriction.objects.count() == 1


def test_owning_team_sees_no_withdraw_button_for_a_second_line_restriction(web_for, registry, personas):
    model = registry["base"]
    imposed = ov.use_restriction_add(actor=personas["validator"], model=model, kind="population",
                                     text="Not for applicants under 21")
    own = ov.use_restriction_add(actor=personas["owner"], model=model, kind="allowed_use",
                                 text="Retail credit decisions")
    withdraw = f"/models/{model.name}/use-restrictions/{{}}/withdraw/"
    page = web_for("owner").get(f"/models/{model.name}/").content.decode()
    assert withdraw.format(own.pk) in page and withdraw.format(imposed.pk) not in page
    assert 'data-testid="second-line-restriction"' in page
    refused = web_for("owner").post(withdraw.format(imposed.pk), {"reason": "Too strict"})
    assert refused.status_code == 403 and "imposed by the second line" in refused.content.decode()
    imposed.refresh_from_db()
    assert imposed.withdrawn_at is None
    page = web_for("compliance").get(f"/models/{model.name}/").content.decode()
    assert withdraw.format(imposed.pk) in page and 'data-testid="second-line-restriction"' not in page
    assert web_for("compliance").post(withdraw.format(imposed.pk),
                                      {"reason": "Superseded"}).status_code == 302
