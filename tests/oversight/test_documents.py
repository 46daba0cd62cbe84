"""Documentation: pre-fill, revisions and diffs, sign-off and its reset, completeness, export."""

import pytest

from common.errors import Forbidden, ValidationFailed
from governance import selectors
from governance.models import AuditEvent
from governance.policy import SR117_REQUIRED
from oversight import prefill, services
from oversight import selectors as ov_selectors
from oversight.models import DocumentRevision
from tests import factories, s3server
from tests.governance.helpers import CREDIT_ANSWERS

s3_server, s3_bucket = s3server.s3_server, s3server.s3_bucket  # the fixtures, for this module

V_URL = "/api/v1/models/credit-default/versions/1/"


@pytest.fixture
def version(personas):
    eng = personas["engineer"]
    ds = factories.dataset(eng, contains_personal_data=True, sensitive_attributes=["sex"])
    dv = factories.dataset_version(eng, ds)
    model = factories.model(eng, owner="owner", intended_use="Retail loan decisions.",
                            limitations="Not for business lending.")
    return factories.version(eng, model, training_datasets=[dv.ref], metrics={"auc": 0.81},
                             hyperparameters={"C": 0.5}, code_commit="abc123",
                             signature={"inputs": [{"name": "income", "type": "double"}]})


def _doc(personas, version, slug="sr11-7"):
    return services.document_create(actor=personas["engineer"], version=version, template_slug=slug,
                                    prefill=prefill.facts_for_version(version))


def _fill_required(personas, document, keys):
    for key in keys:
        services.document_section_save(actor=personas["engineer"], document=document,
                                       section_key=key, text=f"Text for {key}.")


def test_both_regulatory_templates_are_seeded_with_sources(client_for, personas):
    templates = {t["slug"]: t for t in client_for("engineer").get("/api/v1/document-templates/").json()}
    assert set(templates) == {"sr11-7", "eu-ai-act-annex-iv"}
    sr = [s["key"] for s in templates["sr11-7"]["sections"]]
    assert sr[:3] == ["purpose_and_use", "restrictions_on_use", "theory_and_design"]
    assert "component_models" in sr
    annex = templates["eu-ai-act-annex-iv"]["sections"]
    sources = " ".join(" ".join(s["sources"]) for s in annex)
    for point in ["1(a)", "2(a)", "2(b)", "2(c)", "2(d)", "2(e)", "2(f)", "2(g)", "2(h)",
                  "Annex IV 3", "Annex IV 4", "Annex IV 5", "Annex IV 6", "Annex IV 7",
                  "Annex IV 8", "Annex IV 9"]:
        assert point in sources, point


def test_created_document_is_prefilled_from_what_the_registry_knows(client_for, version):
    response = client_for("engineer").post(V_URL + "documents/", {"template": "sr11-7"}, format="json")
    assert response.status_code == 201, response.content
    sections = {s["key"]: s for s in response.json()["sections"]}
    assert "Retail loan decisions." in sections["purpose_and_use"]["text"]
    assert "Not for business lending." in sections["restrictions_on_use"]["text"]
    assert "loans@1" in sections["data_and_inputs"]["text"]
    assert "`income`" in sections["data_and_inputs"]["text"]
    assert "abc123" in sections["methodology"]["text"]
    assert "auc" in sections["performance_testing"]["text"]
    assert sections["ongoing_monitoring"]["text"] == ""
    assert response.json()["fields"]["intended_purpose"] == "Retail loan decisions."
    events = AuditEvent.objects.filter(action="governance.document.created")
    assert events.count() == 1 and "purpose_and_use" in events.get().payload["after"]["prefilled_sections"]


def test_fact_providers_add_shap_and_fairness_to_the_first_draft(personas, version):
    def provider(v):
        return {"shap_top_features": [{"feature": "debt_ratio", "mean_abs_shap": 0.31}],
                "fairness": [{"attribute": "sex", "metric": "disparate_impact_ratio",
                              "value": 0.91, "threshold": ">= 0.8", "passed": True}]}

    prefill.register_fact_provider(provider)
    try:
        doc = _doc(personas, version)
    finally:
        prefill._PROVIDERS.remove(provider)
    text = doc.sections.get(key="performance_testing").text
    assert "debt_ratio" in text and "disparate_impact_ratio" in text


def test_one_document_per_version_and_template(client_for, version):
    client = client_for("engineer")
    client.post(V_URL + "documents/", {"template": "sr11-7"}, format="json")
    assert client.post(V_URL + "documents/", {"template": "sr11-7"}, format="json").status_code == 409


def test_every_save_is_a_new_revision_with_a_viewable_diff(client_for, personas, version):
    doc = _doc(personas, version)
    client = client_for("engineer")
    url = f"/api/v1/documents/{doc.pk}/sections/ongoing_monitoring/"
    assert client.put(url, {"text": "Monthly AUC.\n"}, format="json").status_code == 200
    assert client.put(url, {"text": "Monthly AUC and PSI.\n"}, format="json").status_code == 200
    revisions = client.get(f"/api/v1/documents/{doc.pk}/revisions/").json()
    mine = [r for r in revisions if r["section"] == "ongoing_monitoring"]
    assert len(mine) == 2 and all(r["author"] == "engineer" for r in mine)
    diff = client.get(f"/api/v1/documents/{doc.pk}/revisions/{mine[1]['number']}/").json()
    assert "-Monthly AUC.\n" in diff["diff"] and "+Monthly AUC and PSI.\n" in diff["diff"]
    assert diff["previous_number"] == mine[0]["number"]
    assert AuditEvent.objects.filter(action="governance.document.section_saved").count() == 2


def test_saving_identical_text_changes_nothing(personas, version):
    doc = _doc(personas, version)
    services.document_section_save(actor=personas["engineer"], document=doc,
                                   section_key="implementation", text="Same.")
    count = DocumentRevision.objects.count()
    services.document_section_save(actor=personas["engineer"], document=doc,
                                   section_key="implementation", text="Same.")
    assert DocumentRevision.objects.count() == count


def test_revisions_are_immutable(personas, version):
    doc = _doc(personas, version)
    revision = DocumentRevision.objects.filter(document=doc).first()
    revision.text = "rewritten history"
    with pytest.raises(RuntimeError):
        revision.save()


def test_only_the_owner_signs_off_and_only_a_complete_document(personas, version):
    services.risk_assessment_create(actor=personas["engineer"], model=version.model,
                                    answers=CREDIT_ANSWERS)
    version.model.refresh_from_db()
    doc = _doc(personas, version)
    with pytest.raises(ValidationFailed, match="ongoing_monitoring"):
        services.document_sign_off(actor=personas["owner"], document=doc)
    _fill_required(personas, doc, SR117_REQUIRED)
    for name in ("engineer", "validator", "admin_user"):
        with pytest.raises(Forbidden, match="Only the model's owner"):
            services.document_sign_off(actor=personas[name], document=doc)
    signed = services.document_sign_off(actor=personas["owner"], document=doc)
    assert signed.is_signed_off and signed.signed_off_revision == signed.revision


def test_an_edit_after_sign_off_clears_it_and_says_so_in_the_audit(client_for, personas, version):
    doc = _doc(personas, version)
    _fill_required(personas, doc, SR117_REQUIRED)
    response = client_for("owner").post(f"/api/v1/documents/{doc.pk}/sign-off/")
    assert response.status_code == 200 and response.json()["signed_off"] is True
    response = client_for("engineer").put(f"/api/v1/documents/{doc.pk}/sections/methodology/",
                                          {"text": "Changed."}, format="json")
    body = response.json()
    assert body["signed_off"] is False and body["signed_off_by"] is None
    event = AuditEvent.objects.filter(action="governance.document.section_saved").last()
    assert event.payload["sign_off_cleared"] is True


def test_structured_fields_edit_is_a_revision_and_clears_sign_off(client_for, personas, version):
    doc = _doc(personas, version)
    _fill_required(personas, doc, SR117_REQUIRED)
    services.document_sign_off(actor=personas["owner"], document=doc)
    response = client_for("engineer").patch(
        f"/api/v1/documents/{doc.pk}/fields/",
        {"fields": {"oversight_measures": "Underwriters review declines.", "vendor_model": False}},
        format="json")
    assert response.status_code == 200, response.content
    assert response.json()["fields"]["oversight_measures"] == "Underwriters review declines."
    assert response.json()["signed_off"] is False
    bad = client_for("engineer").patch(f"/api/v1/documents/{doc.pk}/fields/",
                                       {"fields": {"vendor_model": "maybe"}}, format="json")
    assert bad.status_code == 400


def test_completeness_follows_the_tier_policy(personas, version):
    services.risk_assessment_create(actor=personas["engineer"], model=version.model,
                                    answers=CREDIT_ANSWERS)
    policy = selectors.policy_for_tier(1)
    result = ov_selectors.document_completeness(version, policy)
    assert result["complete"] is False
    assert result["missing"] == ["eu-ai-act-annex-iv", "sr11-7"]  # no documents yet
    doc = _doc(personas, version)
    annex = _doc(personas, version, "eu-ai-act-annex-iv")
    result = ov_selectors.document_completeness(version, policy)
    assert "sr11-7:ongoing_monitoring" in result["missing"]
    assert set(result["unsigned"]) == {"sr11-7", "eu-ai-act-annex-iv"}
    _fill_required(personas, doc, SR117_REQUIRED)
    _fill_required(personas, annex, policy.rules["required_document_sections"]["eu-ai-act-annex-iv"])
    version.model.refresh_from_db()
    services.document_sign_off(actor=personas["owner"], document=doc)
    services.document_sign_off(actor=personas["owner"], document=annex)
    result = ov_selectors.document_completeness(version, policy)
    assert result["complete"] is True, result
    assert result["missing"] == [] and result["unsigned"] == []
    doc.refresh_from_db()
    annex.refresh_from_db()
    heads = DocumentRevision.objects.filter(pk__in=result["revision_ids"])
    assert {(r.document_id, r.number) for r in heads} == {(doc.pk, doc.revision), (annex.pk, annex.revision)}


def test_tier_3_policy_requires_fewer_sections(personas, version):
    policy = selectors.policy_for_tier(3)
    doc = _doc(personas, version)
    _fill_required(personas, doc, policy.rules["required_document_sections"]["sr11-7"])
    services.document_sign_off(actor=personas["owner"], document=doc)
    assert ov_selectors.document_completeness(version, policy)["complete"] is True


def test_other_team_cannot_see_or_edit_documents(client_for, personas, version):
    doc = _doc(personas, version)
    other = client_for("other_engineer")
    assert other.get(f"/api/v1/documents/{doc.pk}/").status_code == 404
    assert other.put(f"/api/v1/documents/{doc.pk}/sections/methodology/", {"text": "x"},
                     format="json").status_code == 404
    validator = client_for("validator")
    assert validator.get(f"/api/v1/documents/{doc.pk}/").status_code == 200
    response = validator.put(f"/api/v1/documents/{doc.pk}/sections/methodology/", {"text": "x"},
                             format="json")
    assert response.status_code == 403 and "owning team" in response.json()["detail"]


def test_attachment_is_stored_by_sha256_and_downloadable(client_for, personas, version, settings):
    import hashlib
    import io

    doc = _doc(personas, version)
    data = b"validation report contents"
    upload = io.BytesIO(data)
    upload.name = "report.txt"
    client = client_for("engineer")
    response = client.post(f"/api/v1/documents/{doc.pk}/attachments/",
                           {"section": "performance_testing", "file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    section = next(s for s in response.json()["sections"] if s["key"] == "performance_testing")
    att = section["attachments"][0]
    assert att["sha256"] == hashlib.sha256(data).hexdigest()
    download = client.get(f"/api/v1/documents/{doc.pk}/attachments/{att['id']}/")
    assert b"".join(download.streaming_content) == data


def test_attachment_on_object_storage_is_kept_in_the_bucket_and_downloads_intact(
    client_for, personas, version, s3_bucket
):
    import hashlib
    import io

    doc = _doc(personas, version)
    data = b"validation report kept in the bucket"
    sha = hashlib.sha256(data).hexdigest()
    upload = io.BytesIO(data)
    upload.name = "report.txt"
    client = client_for("engineer")
    response = client.post(f"/api/v1/documents/{doc.pk}/attachments/",
                           {"section": "performance_testing", "file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert s3_bucket.keys() == [f"documents/{sha[:2]}/{sha}"]
    assert s3_bucket.read(f"documents/{sha[:2]}/{sha}") == data
    section = next(s for s in response.json()["sections"] if s["key"] == "performance_testing")
    download = client.get(f"/api/v1/documents/{doc.pk}/attachments/{section['attachments'][0]['id']}/")
    assert b"".join(download.streaming_content) == data
    assert download["X-Content-SHA256"] == sha


def test_export_html_pdf_and_model_card(client_for, personas, version):
    services.risk_assessment_create(actor=personas["engineer"], model=version.model,
                                    answers=CREDIT_ANSWERS)
    doc = _doc(personas, version)
    services.document_section_save(
        actor=personas["engineer"], document=doc, section_key="ongoing_monitoring",
        text="Monthly **AUC** review.\n\n<script>alert(1)</script>\n\n![x](http://example.com/x.png)")
    client = client_for("validator")
    html = client.get(f"/api/v1/documents/{doc.pk}/export/?format=html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    page = html.content.decode()
    assert "<strong>AUC</strong>" in page and "<script>" not in page
    assert "SR 11-7" in page and "Tier 1" in page
    pdf = client.get(V_URL + "documentation-pack/?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    card = client.get(V_URL + "documentation-pack/?format=json").json()
    assert card["model"]["name"] == "credit-default"
    assert card["risk"]["tier"] == 1 and card["risk"]["eu_ai_act_class"] == "high"
    assert card["version"]["metrics"] == {"auc": 0.81}
    assert card["documents"][0]["template"] == "sr11-7"
    assert client.get(V_URL + "documentation-pack/?format=docx").status_code == 400


def test_pdf_rendering_never_fetches_from_the_network(monkeypatch):
    from weasyprint.urls import URLFetcher

    from oversight import export

    fetched = []
    real = URLFetcher.fetch

    def spy(self, url, headers=None):
        fetched.append(url)
        return real(self, url, headers)

    monkeypatch.setattr(URLFetcher, "fetch", spy)
    pdf = export.render_pdf('<img src="http://127.0.0.1:9/x.png"><link rel="stylesheet" '
                            'href="file:///etc/passwd"><p>x</p>')
    assert pdf.startswith(b"%PDF")
    # WeasyPrint asked, and the fetcher refused both (only data: URIs are allowed).
    assert fetched  # the spy saw the attempts …
    with pytest.raises(ValueError):  # … and the same fetcher refuses them
        URLFetcher(allowed_protocols={"data"}).fetch("http://127.0.0.1:9/x.png")


def test_documentation_status_has_completeness_and_coverage(client_for, personas, version):
    services.risk_assessment_create(actor=personas["engineer"], model=version.model,
                                    answers=CREDIT_ANSWERS)
    _doc(personas, version)
    body = client_for("engineer").get(V_URL + "documentation-status/").json()
    assert body["risk_tier"] == 1 and body["completeness"]["complete"] is False
    by_source = {r["source"]: r for r in body["coverage"]}
    assert by_source["EU AI Act Annex IV 2(d)"]["covered"] is True
    assert by_source["EU AI Act Annex IV 2(h)"]["covered"] is False
