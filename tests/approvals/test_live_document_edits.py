"""Edits to a signed-off document of a production version say what they will do before they
happen (API: 409 unless confirm_lapse=true; portal: a confirmation naming the sign-off that
lapses). Made, they flag the version on the dashboard, open a finding for its owner, and the
version's readiness shows the lapse until the owner signs off again."""

from __future__ import annotations

import io

import pytest

from approvals import gates, services
from governance.models import AuditEvent
from oversight.models import Document, Finding, SignOffLapse
from oversight.services import documents as doc_services

pytestmark = pytest.mark.django_db

TIER1 = [("validator", "validator"), ("compliance", "compliance"), ("business", "business_approver")]


@pytest.fixture
def live(personas, make_ready):
    """credit-default@1 promoted to production on signed-off documentation."""
    version = make_ready(tier=1)
    req = services.promotion_request_open(actor=personas["engineer"], version=version,
                                          target_stage="production", justification="Better AUC.")
    for who, role in TIER1:
        req = services.promotion_decide(actor=personas[who], request_id=req.pk,
                                        decision="approve", role=role, comment="ok")
    version.refresh_from_db()
    assert version.stage == "production"
    return version


def _doc(version) -> Document:
    return Document.objects.select_related("version__model").get(version=version,
                                                                 template_slug="sr11-7")


def _report(name: str = "report.txt") -> io.BytesIO:
    upload = io.BytesIO(b"Back-test of thin-file applicants, Q3 2026.\n")
    upload.name = name
    return upload


def test_api_attachment_is_refused_with_409_saying_what_would_lapse(live, client_for):
    doc = _doc(live)
    signed = doc.signed_off_revision
    response = client_for("engineer").post(
        f"/api/v1/documents/{doc.pk}/attachments/",
        {"section": "performance_testing", "file": _report()}, format="multipart")
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "sign_off_would_lapse"
    assert f"{live.ref} is in production" in body["detail"]
    assert f"revision {signed}, by owner" in body["detail"]
    assert "confirm_lapse=true" in body["detail"] and "confirm_lapse" in body["errors"]
    doc.refresh_from_db()
    assert doc.is_signed_off and doc.attachments.count() == 0
    assert not SignOffLapse.objects.exists() and not Finding.objects.exists()


def test_api_section_and_fields_edits_are_refused_too(live, client_for):
    doc = _doc(live)
    api = client_for("engineer")
    section = api.put(f"/api/v1/documents/{doc.pk}/sections/methodology/",
                      {"text": "A new account of the method."}, format="json")
    fields = api.patch(f"/api/v1/documents/{doc.pk}/fields/",
                       {"fields": {"monitoring_plan": "Monthly PSI."}}, format="json")
    assert (section.status_code, fields.status_code) == (409, 409)
    doc.refresh_from_db()
    assert doc.is_signed_off


def test_a_confirmed_edit_lapses_the_sign_off_flags_and_opens_a_finding(live, client_for,
                                                                       personas):
    doc = _doc(live)
    signed = doc.signed_off_revision
    response = client_for("engineer").post(
        f"/api/v1/documents/{doc.pk}/attachments/",
        {"section": "performance_testing", "file": _report(), "confirm_lapse": "true"},
        format="multipart")
    assert response.status_code == 201, response.content
    doc.refresh_from_db()
    assert not doc.is_signed_off
    lapse = SignOffLapse.objects.get()
    assert (lapse.version_id, lapse.signed_off_revision, lapse.resolved_at) == (live.pk, signed, None)
    assert "attached report.txt to section performance_testing" in lapse.edit
    finding = lapse.finding
    assert (finding.severity, finding.status, finding.owner, finding.version_id) == (
        "high", "open", personas["owner"], live.pk)
    assert finding.opened_by is None and "Sign-off lapsed" in finding.title
    event = AuditEvent.objects.get(action="governance.document.attachment_added")
    assert event.payload["sign_off_lapsed"]["finding"] == finding.pk
    assert AuditEvent.objects.get(action="governance.finding.opened").actor_name == "system"
    # The version's readiness shows the lapse, under the stage it is in.
    report = gates.evaluate(live, "production")
    item = next(i for i in report.items if i["key"] == "documentation")
    assert item["met"] is False and f"revision {signed}" in item["lapses"][0]


def test_the_dashboard_flags_the_version_and_signing_off_again_clears_it(live, personas, client):
    doc = _doc(live)
    doc_services.document_section_save(actor=personas["engineer"], document=doc,
                                       section_key="methodology", text="Revised.",
                                       confirm_lapse=True)
    client.force_login(personas["validator"])
    page = client.get("/").content.decode()
    assert 'data-testid="lapsed-production"' in page and live.ref in page
    client.force_login(personas["owner"])
    version_page = client.get(f"/models/{live.model.name}/v{live.version}/").content.decode()
    assert 'data-testid="sign-off-lapses"' in version_page and "In production now" in version_page
    doc_services.document_sign_off(actor=personas["owner"], document=_doc(live))
    assert SignOffLapse.objects.get().resolved_at is not None
    assert 'data-testid="lapsed-production"' not in client.get("/").content.decode()


def test_the_dashboard_lists_lapses_without_a_query_per_row(live, personas, client,
                                                            django_assert_max_num_queries):
    doc = _doc(live)
    doc_services.document_section_save(actor=personas["engineer"], document=doc,
                                       section_key="methodology", text="Revised.",
                                       confirm_lapse=True)
    client.force_login(personas["auditor"])
    with django_assert_max_num_queries(25) as few:
        client.get("/")
    for n in range(3):
        SignOffLapse.objects.create(
            document=doc, version=live, signed_off_revision=1, signed_off_by=personas["owner"],
            signed_off_at=doc.created_at, edit=f"edit {n}", revision=2,
            edited_by=personas["engineer"], created_at=doc.created_at)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/").content.decode()
    assert page.count("edit 2") == 1 and SignOffLapse.objects.filter(resolved_at=None).count() == 4


def test_portal_edit_asks_for_confirmation_naming_the_sign_off(live, personas, client):
    doc = _doc(live)
    client.force_login(personas["engineer"])
    url = f"/documents/{doc.pk}/sections/methodology/"
    form = client.get(url).content.decode()
    assert 'data-testid="lapse-warning"' in form and f"revision {doc.signed_off_revision}" in form
    refused = client.post(url, {"text": "Changed.", "note": ""})
    assert refused.status_code == 400
    assert "Tick the box to confirm" in refused.content.decode()
    doc.refresh_from_db()
    assert doc.is_signed_off
    done = client.post(url, {"text": "Changed.", "note": "", "confirm_lapse": "on"}, follow=True)
    assert "flagged on the dashboard" in done.content.decode()
    assert SignOffLapse.objects.count() == 1


def test_edits_of_a_version_not_in_production_need_no_confirmation(personas, make_ready):
    version = make_ready(tier=1)
    doc = _doc(version)
    doc_services.document_section_save(actor=personas["engineer"], document=doc,
                                       section_key="methodology", text="Changed.")
    doc.refresh_from_db()
    assert not doc.is_signed_off and not SignOffLapse.objects.exists()
