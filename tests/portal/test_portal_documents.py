"""Documents in the portal: start from a template on the version page, edit sections in Markdown
with a sanitised live preview, revisions and diffs, structured fields, attachments, the owner's
sign-off (and its clearing by a later edit), exports and the coverage matrix."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.models import AuditEvent
from oversight import prefill, selectors, services
from oversight.models import Document, DocumentAttachment, DocumentRevision
from tests.portal.conftest import write_forms

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(registry, personas):
    return services.document_create(
        actor=personas["engineer"], version=registry["v1"], template_slug="sr11-7",
        prefill=prefill.facts_for_version(registry["v1"]),
    )


def _fill_required(personas, document) -> None:
    for key in selectors.document_required_sections(document):
        services.document_section_save(actor=personas["engineer"], document=document,
                                       section_key=key, text=f"Text for {key}.")


def _url(document, tail: str = "") -> str:
    return f"/documents/{document.pk}/{tail}"


def test_engineer_starts_a_prefilled_document_from_the_version_page(web_for, registry):
    web = web_for("engineer")
    page = web.get("/models/credit-default/v1/").content.decode()
    assert 'data-testid="start-sr11-7"' in page
    response = web.post("/models/credit-default/v1/documents/", {"template": "sr11-7"}, follow=True)
    document = Document.objects.get(version=registry["v1"], template_slug="sr11-7")
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/documents/{document.pk}/"
    assert "pre-filled from the registry" in html
    assert "loans@1" in html  # the data section was drafted from the lineage
    assert AuditEvent.objects.filter(action="governance.document.created", object_id=str(document.pk)).count() == 1


def test_starting_a_second_document_from_the_same_template_is_refused_with_a_message(web_for, document):
    response = web_for("engineer").post("/models/credit-default/v1/documents/", {"template": "sr11-7"},
                                        follow=True)
    assert "already has a sr11-7 document" in response.content.decode()
    assert Document.objects.count() == 1


def test_document_page_marks_required_sections_and_links_exports(web_for, document):
    html = web_for("engineer").get(_url(document)).content.decode()
    for key in selectors.document_required_sections(document):
        assert f'data-testid="section-{key}"' in html
    assert ">required</span>" in html
    assert f"/api/v1/documents/{document.pk}/export/?format=pdf" in html
    assert f"/api/v1/documents/{document.pk}/export/?format=json" in html
    assert 'data-testid="edit-purpose_and_use"' in html


def test_saving_a_section_makes_a_new_revision_and_shows_the_rendered_markdown(web_for, document):
    before = document.revision
    response = web_for("engineer").post(
        _url(document, "sections/ongoing_monitoring/"),
        {"text": "## Monitoring\n\n- AUC monthly\n- PSI weekly", "note": "first plan"}, follow=True,
    )
    html = response.content.decode()
    document.refresh_from_db()
    assert document.revision == before + 1
    assert f"as revision {document.revision}" in html
    assert "<h2>Monitoring</h2>" in html and "<li>PSI weekly</li>" in html
    revision = DocumentRevision.objects.get(document=document, number=document.revision)
    assert revision.section_key == "ongoing_monitoring" and revision.note == "first plan"


def test_live_preview_renders_markdown_and_strips_scripts(web_for, document):
    web = web_for("engineer")
    editor = web.get(_url(document, "sections/ongoing_monitoring/")).content.decode()
    assert f'hx-post="/documents/{document.pk}/preview/"' in editor
    preview = web.post(_url(document, "preview/"),
                       {"text": "**bold** <script>alert(1)</script> [x](javascript:alert(1))"},
                       HTTP_HX_REQUEST="true")
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html


def test_revisions_list_and_diff_show_what_changed(web_for, personas, document):
    services.document_section_save(actor=personas["engineer"], document=document,
                                   section_key="ongoing_monitoring", text="AUC monthly\n")
    revision = services.document_section_save(actor=personas["engineer"], document=document,
                                              section_key="ongoing_monitoring", text="AUC weekly\n")
    web = web_for("auditor")
    listing = web.get(_url(document, "revisions/")).content.decode()
    assert f'href="/documents/{document.pk}/revisions/{revision.number}/"' in listing
    assert "Ongoing monitoring plan" in listing
    diff = web.get(_url(document, f"revisions/{revision.number}/")).content.decode()
    assert '<span class="del">-AUC monthly</span>' in diff
    assert '<span class="add">+AUC weekly</span>' in diff


def test_revision_list_query_count_does_not_grow_with_revisions(web_for, personas, document):
    web = web_for("engineer")
    with CaptureQueriesContext(connection) as few:
        assert web.get(_url(document, "revisions/")).status_code == 200
    for i in range(15):
        services.document_section_save(actor=personas["engineer2"], document=document,
                                       section_key="ongoing_monitoring", text=f"v{i}")
    with CaptureQueriesContext(connection) as many:
        assert web.get(_url(document, "revisions/")).status_code == 200
    assert len(many) == len(few)


def test_document_page_query_count_does_not_grow_with_sections_and_attachments(
    web_for, personas, document
):
    def attach(i: int) -> None:
        services.document_attachment_add(
            actor=personas["engineer"], document=document, section_key="methodology",
            upload=SimpleUploadedFile(f"r{i}.txt", b"x" * (i + 1)), filename=f"r{i}.txt",
        )

    web = web_for("engineer")
    attach(0)
    with CaptureQueriesContext(connection) as few:
        web.get(_url(document))
    _fill_required(personas, document)
    for i in range(1, 4):
        attach(i)
    with CaptureQueriesContext(connection) as many:
        web.get(_url(document))
    assert len(many) == len(few)


def test_only_the_owner_sees_the_sign_off_button(web_for, personas, document):
    _fill_required(personas, document)
    engineer = web_for("engineer").get(_url(document)).content.decode()
    assert 'data-testid="sign-off"' not in engineer
    assert "Only the model&#x27;s owner may sign off its documentation." in engineer
    refused = web_for("engineer").post(_url(document, "sign-off/"))
    assert refused.status_code == 403
    assert "Only the model&#x27;s owner may sign off" in refused.content.decode()
    owner = web_for("owner").get(_url(document)).content.decode()
    assert 'data-testid="sign-off"' in owner
    response = web_for("owner").post(_url(document, "sign-off/"), follow=True)
    document.refresh_from_db()
    assert document.is_signed_off and document.signed_off_by == personas["owner"]
    assert 'data-testid="signed-off"' in response.content.decode()


def test_signing_off_an_incomplete_document_says_which_sections_are_empty(web_for, document):
    response = web_for("owner").post(_url(document, "sign-off/"), follow=True)
    html = response.content.decode()
    document.refresh_from_db()
    assert not document.is_signed_off
    assert "Fill in every required section before signing off" in html
    assert "ongoing_monitoring" in html


def test_an_edit_after_sign_off_clears_it_and_the_page_says_so(web_for, personas, document):
    _fill_required(personas, document)
    services.document_sign_off(actor=personas["owner"], document=document)
    web = web_for("engineer")
    editor = web.get(_url(document, "sections/methodology/")).content.decode()
    assert 'data-testid="clears-sign-off"' in editor
    response = web.post(_url(document, "sections/methodology/"), {"text": "New method."}, follow=True)
    html = response.content.decode()
    document.refresh_from_db()
    assert not document.is_signed_off
    assert "The edit cleared the sign-off" in html
    assert 'data-testid="sign-off-cleared"' in html


def test_structured_fields_form_saves_a_revision(web_for, document):
    data = {name: document.fields.get(name) or "" for name in services.STRUCTURED_FIELDS}
    data.update({"oversight_measures": "A credit officer reviews every decline.", "vendor_model": ""})
    data.pop("vendor_model")
    response = web_for("engineer").post(_url(document, "fields/"), data, follow=True)
    document.refresh_from_db()
    assert document.fields["oversight_measures"] == "A credit officer reviews every decline."
    assert "Structured fields saved as revision" in response.content.decode()
    assert "A credit officer reviews every decline." in response.content.decode()


def test_attachment_upload_is_listed_under_its_section(web_for, document):
    upload = SimpleUploadedFile("backtest.csv", b"segment,auc\nthin,0.71\n", content_type="text/csv")
    response = web_for("engineer").post(_url(document, "attachments/"),
                                        {"section": "performance_testing", "file": upload}, follow=True)
    attachment = DocumentAttachment.objects.get(document=document)
    html = response.content.decode()
    assert attachment.name == "backtest.csv"
    assert f"/api/v1/documents/{document.pk}/attachments/{attachment.pk}/" in html
    assert 'data-testid="attachments-performance_testing"' in html


def test_attachment_without_a_file_is_flagged_next_to_the_field(web_for, document):
    response = web_for("engineer").post(_url(document, "attachments/"), {"section": "methodology"})
    assert response.status_code == 400
    assert 'id="id_file-error"' in response.content.decode()
    assert not DocumentAttachment.objects.exists()


def test_auditor_reads_documents_without_any_write_control(web_for, document):
    web = web_for("auditor")
    for url in (_url(document), _url(document, "revisions/"), "/models/credit-default/v1/",
                "/models/credit-default/v1/coverage/"):
        response = web.get(url)
        assert response.status_code == 200, url
        assert write_forms(response.content.decode()) == [], url
    before = document.revision
    for url, data in [
        (_url(document, "sections/methodology/"), {"text": "x"}),
        (_url(document, "preview/"), {"text": "x"}),
        (_url(document, "fields/"), {"oversight_measures": "x"}),
        (_url(document, "sign-off/"), {}),
        ("/models/credit-default/v1/documents/", {"template": "eu-ai-act-annex-iv"}),
    ]:
        response = web.post(url, data)
        assert response.status_code == 403, url
        assert "Auditors have read-only access" in response.content.decode()
    document.refresh_from_db()
    assert document.revision == before and Document.objects.count() == 1


def test_other_team_cannot_see_the_document(web_for, document):
    assert web_for("other_engineer").get(_url(document)).status_code == 404


def test_coverage_matrix_shows_filled_sections_per_source(web_for, personas, document):
    services.document_section_save(actor=personas["engineer"], document=document,
                                   section_key="ongoing_monitoring", text="Monthly.")
    html = web_for("validator").get("/models/credit-default/v1/coverage/").content.decode()
    assert 'data-testid="coverage"' in html
    assert "EU AI Act Art. 72" in html
    assert f'href="/documents/{document.pk}/#section-ongoing_monitoring"' in html
    assert "not started" in html  # the Annex IV template has no document yet


def test_diff_of_a_text_without_a_final_newline_keeps_lines_apart(web_for, personas, document):
    services.document_section_save(actor=personas["engineer"], document=document,
                                   section_key="ongoing_monitoring", text="AUC monthly.")
    revision = services.document_section_save(actor=personas["engineer"], document=document,
                                              section_key="ongoing_monitoring",
                                              text="AUC weekly.\n\n- Owner: credit risk")
    html = web_for("engineer").get(_url(document, f"revisions/{revision.number}/")).content.decode()
    assert '<span class="del">-AUC monthly.</span>' in html
    assert '<span class="add">+AUC weekly.</span>' in html
    assert '<span class="add">+- Owner: credit risk</span>' in html
