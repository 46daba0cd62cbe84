"""Readiness of a vendor version: SHAP replaced by the policy's vendor evidence, item by item."""

from __future__ import annotations

import pytest

from explainability import runtime
from governance.models import DocumentTemplate
from oversight.models import Document
from tests import factories
from tests.vendor import compas
from tests.vendor.helpers import params, start_via_api, upload

pytestmark = pytest.mark.django_db

READINESS = "/api/v1/models/recidivism-tool/versions/1/readiness/?target_stage=production"


def _items(client) -> dict[str, dict]:
    response = client.get(READINESS)
    assert response.status_code == 200, response.json()
    return {item["key"]: item for item in response.json()["items"]}


def test_the_sr11_7_template_publishes_vendor_sections_in_a_new_version():
    active = DocumentTemplate.objects.get(slug="sr11-7", is_active=True)
    first = DocumentTemplate.objects.get(slug="sr11-7", version=1)
    assert active.version == first.version + 1
    assert active.section_keys[: len(first.section_keys)] == first.section_keys
    assert {"vendor_documentation", "vendor_validation_report"} <= set(active.section_keys)
    assert "SR 11-7 §VI (vendor and third-party products)" in active.section("vendor_documentation")["sources"]


def test_readiness_of_a_vendor_version_replaces_shap_with_the_vendor_items(
    personas, client_for, vendor_version
):
    engineer = client_for("engineer")
    items = _items(engineer)
    assert items["shap"]["met"] is True
    assert items["shap"]["replaced_by"] == ["vendor_validation_report", "outcome_analysis"]
    assert "vendor model without an artifact" in items["shap"]["detail"]
    for key in ("vendor_validation_report", "outcome_analysis"):
        assert items[key]["met"] is False
        assert items[key]["detail"].startswith("In place of SHAP")
    assert items["fairness"]["met"] is False

    # The vendor's validation report goes into the SR 11-7 documentation (template v2).
    created = engineer.post("/api/v1/models/recidivism-tool/versions/1/documents/",
                            {"template": "sr11-7"}, format="json")
    assert created.status_code == 201, created.json()
    document = Document.objects.get(version=vendor_version, template_slug="sr11-7")
    vendor_text = document.sections.get(key="vendor_documentation").text
    assert "Northpointe" in vendor_text and "CT-2024-117" in vendor_text
    attached = engineer.post(
        f"/api/v1/documents/{document.pk}/attachments/",
        {"section": "vendor_validation_report",
         "file": factories.upload(b"%PDF-1.4 validation report", "compas-validation-2024.pdf")},
        format="multipart",
    )
    assert attached.status_code == 201, attached.json()
    items = _items(engineer)
    report = items["vendor_validation_report"]
    assert report["met"] is True and "compas-validation-2024.pdf" in report["detail"]
    assert items["outcome_analysis"]["met"] is False

    # Outcome analysis on the recorded decisions meets the second vendor item (and fairness).
    dv = upload(personas["engineer"], compas.table())
    job = runtime.run_inline(start_via_api(engineer, vendor_version, dv, params()).pk)
    assert job.status == "succeeded", job.error_message
    items = _items(engineer)
    outcome = items["outcome_analysis"]
    overall = job.result["outcomes"]["overall"]
    assert outcome["met"] is True and outcome["job_id"] == job.pk
    assert f"accuracy {overall['accuracy']:.3f}" in outcome["detail"]
    assert f"AUC {overall['auc']:.3f}" in outcome["detail"]
    assert items["fairness"]["job_id"] == job.pk
    assert items["fairness"]["met"] == job.result["passed"]


def test_an_in_house_version_is_judged_on_model_fairness_not_on_recorded_decisions(
    personas, client_for
):
    eng = personas["engineer"]
    model = factories.model(eng, name="recid-inhouse")
    version = factories.version(eng, model)
    dv = upload(eng, compas.table())
    job = runtime.run_inline(start_via_api(client_for("engineer"), version, dv, {
        "mode": "decisions", "prediction_column": "decile_score", "threshold": 5,
        "outcome_column": "two_year_recid"}).pk)
    assert job.status == "succeeded", job.error_message
    response = client_for("engineer").get(
        "/api/v1/models/recid-inhouse/versions/1/readiness/?target_stage=production")
    items = {item["key"]: item for item in response.json()["items"]}
    assert items["shap"]["met"] is False and "replaced_by" not in items["shap"]
    assert items["fairness"]["met"] is False and "job_id" not in items["fairness"]
    assert "vendor_validation_report" not in items
