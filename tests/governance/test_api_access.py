"""Cross-cutting API rules: auditors get 403 on every governance write; anonymous 401; /me/."""

import io

import pytest

from oversight import prefill, services
from tests import contract, factories
from tests.governance.helpers import CREDIT_ANSWERS


@pytest.fixture
def world(personas):
    eng = personas["engineer"]
    model = factories.model(eng, owner="owner")
    version = factories.version(eng, model)
    ra = services.risk_assessment_create(actor=eng, model=model, answers=CREDIT_ANSWERS)
    doc = services.document_create(actor=eng, version=version, template_slug="sr11-7",
                                   prefill=prefill.facts_for_version(version))
    finding = services.finding_open(actor=personas["validator"], model=model, title="t",
                                    severity="low")
    return {"ra": ra.pk, "doc": doc.pk, "finding": finding.pk}


def _writes(w):
    m = "/api/v1/models/credit-default"
    return [
        ("post", f"{m}/risk-assessments/", {"answers": CREDIT_ANSWERS}),
        ("post", f"{m}/risk-assessments/{w['ra']}/override/", {"tier": 2, "justification": "x"}),
        ("post", "/api/v1/policies/", {"tier": 3, "rules": {}}),
        ("post", f"{m}/versions/1/documents/", {"template": "eu-ai-act-annex-iv"}),
        ("put", f"/api/v1/documents/{w['doc']}/sections/methodology/", {"text": "x"}),
        ("patch", f"/api/v1/documents/{w['doc']}/fields/", {"fields": {"vendor_model": True}}),
        ("post", f"/api/v1/documents/{w['doc']}/sign-off/", {}),
        ("post", f"/api/v1/documents/{w['doc']}/attachments/", {"section": "methodology"}),
        ("post", "/api/v1/findings/", {"model": "credit-default", "title": "x", "severity": "low"}),
        ("post", f"/api/v1/findings/{w['finding']}/responses/", {"body": "x"}),
        ("post", f"/api/v1/findings/{w['finding']}/transition/", {"status": "closed"}),
    ]


def test_auditor_gets_403_on_every_governance_write(client_for, world):
    auditor = client_for("auditor")
    for method, url, data in _writes(world):
        contract.assert_auditor_403(auditor, url, method=method, data=data)


def test_auditor_reads_everything(client_for, world):
    auditor = client_for("auditor")
    for url in ["/api/v1/models/credit-default/risk-assessments/", f"/api/v1/documents/{world['doc']}/",
                "/api/v1/findings/", "/api/v1/audit-events/", "/api/v1/audit-events/verify/",
                "/api/v1/policies/", "/api/v1/models/credit-default/versions/1/documentation-status/",
                f"/api/v1/documents/{world['doc']}/export/?format=json"]:
        assert auditor.get(url).status_code == 200, url


def test_anonymous_gets_401(db):
    for url in ["/api/v1/me/", "/api/v1/audit-events/", "/api/v1/findings/",
                "/api/v1/risk-questionnaire/", "/api/v1/audit-events/export/?format=csv"]:
        contract.assert_anonymous_401(url)


def test_me_shows_roles_teams_and_capabilities(client_for, personas):
    owner = client_for("owner").get("/api/v1/me/").json()
    assert owner["roles"] == ["engineer", "model_owner"] and owner["teams"] == ["credit"]
    assert {"register_models", "sign_off_documentation"} <= set(owner["capabilities"])
    assert "decide_promotions" not in owner["capabilities"]
    auditor = client_for("auditor").get("/api/v1/me/").json()
    assert auditor["read_only"] is True
    assert "read_only" in auditor["capabilities"] and "register_models" not in auditor["capabilities"]
    validator = client_for("validator").get("/api/v1/me/").json()
    assert {"decide_promotions", "override_risk_tier", "open_findings"} <= set(validator["capabilities"])


def test_governance_gates_explain_what_is_missing(client_for, world, personas):
    body = client_for("engineer").get(
        "/api/v1/models/credit-default/versions/1/governance-gates/?target_stage=production").json()
    items = {i["key"]: i for i in body["items"]}
    assert body["ready"] is False
    assert items["not_prohibited"]["met"] and items["risk_assessment"]["met"]
    assert items["documentation"]["met"] is False and "eu-ai-act-annex-iv" in items["documentation"]["detail"]
    assert items["no_open_high_findings"]["met"] is True


def test_prohibited_model_fails_the_gate(client_for, world, personas):
    from django.apps import apps

    model = apps.get_model("registry", "RegisteredModel").objects.get(name="credit-default")
    services.risk_assessment_create(actor=personas["engineer"], model=model,
                                    answers={**CREDIT_ANSWERS, "prohibited_practice": "social_scoring"})
    body = client_for("engineer").get(
        "/api/v1/models/credit-default/versions/1/governance-gates/?target_stage=staging").json()
    gate = next(i for i in body["items"] if i["key"] == "not_prohibited")
    assert gate["met"] is False and "Art. 5" in gate["detail"]


def test_attachment_upload_by_auditor_leaves_no_file(client_for, world, settings):
    upload = io.BytesIO(b"x")
    upload.name = "x.txt"
    response = client_for("auditor").post(f"/api/v1/documents/{world['doc']}/attachments/",
                                          {"section": "methodology", "file": upload}, format="multipart")
    assert response.status_code == 403
    assert not (settings.ARTIFACT_ROOT / "documents").exists()
