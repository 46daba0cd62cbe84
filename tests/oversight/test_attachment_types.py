"""Document attachments: only the configured kinds, judged by content (magic bytes, the Office
[Content_Types].xml, UTF-8 text), never by name; a refused file is not stored at all."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from common import filetypes
from common.errors import ValidationFailed
from governance.models import AuditEvent
from oversight import services
from oversight.models import DocumentAttachment, DocumentRevision
from tests import factories


@pytest.fixture
def document(personas):
    eng = personas["engineer"]
    model = factories.model(eng, owner="owner", developers=["engineer"])
    version = factories.version(eng, model)
    return services.document_create(actor=eng, version=version, template_slug="sr11-7")


def _ooxml(main: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/main.xml" ContentType="'
            f'application/vnd.openxmlformats-officedocument.{main}+xml"/></Types>'))
        zf.writestr("main.xml", "<x/>")
    return buf.getvalue()


def _ole(stream: str) -> bytes:
    """A compound file whose first directory sector names the Root Entry and `stream`."""
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<H", header, 0x1E, 9)  # 512-byte sectors
    struct.pack_into("<I", header, 0x30, 0)  # the directory starts at sector 0
    directory = bytearray(512)
    for i, name in enumerate(["Root Entry", stream]):
        raw = (name + "\0").encode("utf-16-le")
        directory[i * 128:i * 128 + len(raw)] = raw
        struct.pack_into("<H", directory, i * 128 + 0x40, len(raw))
    return bytes(header + directory)


def _skops() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("schema.json", "{}")
    return buf.getvalue()


ALLOWED = [
    ("report.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "pdf", "application/pdf"),
    ("plot.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "png", "image/png"),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 20, "jpeg", "image/jpeg"),
    ("anim.gif", b"GIF89a" + b"\0" * 20, "gif", "image/gif"),
    ("pic.webp", b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 8, "webp", "image/webp"),
    ("backtest.csv", b"segment,auc\nthin,0.71\nthick,0.83\n", "csv", "text/csv"),
    ("notes.txt", "Validation notes — reviewed.\nNo issue.".encode(), "text", "text/plain"),
    ("memo.docx", _ooxml("wordprocessingml.document.main"), "docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("sheet.xlsx", _ooxml("spreadsheetml.sheet.main"), "xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("deck.pptx", _ooxml("presentationml.presentation.main"), "pptx",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("old.doc", _ole("WordDocument"), "doc", "application/msword"),
    ("old.xls", _ole("Workbook"), "xls", "application/vnd.ms-excel"),
]


@pytest.mark.parametrize(("name", "data", "kind", "media"), ALLOWED, ids=[a[2] for a in ALLOWED])
def test_allowed_kinds_are_kept_with_the_detected_media_type(personas, document, name, data,
                                                             kind, media, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(data)
    assert filetypes.detect(path) == kind
    attachment = services.document_attachment_add(
        actor=personas["engineer"], document=document, section_key="methodology",
        upload=SimpleUploadedFile(name, data, content_type="application/x-claimed"), filename=name,
    )
    assert attachment.content_type == media


REFUSED = [
    ("report.pdf", pickle.dumps({"evil": True}), "Python pickle"),
    ("notes.txt", b"\x7fELF\x02\x01\x01" + b"\0" * 40, "Linux executable (ELF)"),
    ("setup.pdf", b"MZ\x90\0" + b"\0" * 40, "Windows executable (PE)"),
    ("model.docx", _skops(), "skops model file"),
    ("run.txt", b"#!/bin/sh\nrm -rf /\n", "script (starts with #!)"),
    ("page.txt", b"<!DOCTYPE html><script>alert(1)</script>", "HTML, SVG or XML markup"),
    ("data.csv", b"a,b\n1,2\n\x00\x01", "unrecognised binary data"),
    ("legacy.txt", "caf\u00e9".encode("latin-1"), "text that is not UTF-8"),
    ("bundle.pdf", b"PK\x03\x04" + _ooxml("x")[4:], "zip archive"),
]


@pytest.mark.parametrize(("name", "data", "detected"), REFUSED, ids=[r[2] for r in REFUSED])
def test_other_content_is_refused_naming_what_it_is_and_nothing_is_stored(
    client_for, personas, document, settings, name, data, detected
):
    client = client_for("engineer")
    revisions = DocumentRevision.objects.count()
    events = AuditEvent.objects.count()
    response = client.post(
        f"/api/v1/documents/{document.pk}/attachments/",
        {"section": "methodology", "file": factories.upload(data, name)}, format="multipart",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    message = body["errors"]["file"][0]
    assert name in message and detected in message
    assert "Allowed: PDF, PNG image, JPEG image" in message and "Excel 97–2003 workbook (xls)" in message
    assert body["code"] == "file_type_not_allowed"
    assert not DocumentAttachment.objects.exists()
    assert DocumentRevision.objects.count() == revisions and AuditEvent.objects.count() == events
    documents = Path(settings.ARTIFACT_ROOT) / "documents"
    assert not documents.exists() or not [p for p in documents.rglob("*") if p.is_file()]
    staging = [p for p in Path(settings.ARTIFACT_ROOT).rglob("upload-*") if p.is_file()]
    assert not staging  # the staged copy is gone too


def test_the_allowed_list_is_configured(personas, document, settings):
    settings.DOCUMENT_ATTACHMENT_TYPES = ["pdf"]
    with pytest.raises(ValidationFailed) as refused:
        services.document_attachment_add(
            actor=personas["engineer"], document=document, section_key="methodology",
            upload=SimpleUploadedFile("t.pdf", b"segment,auc\nthin,0.71\n"), filename="t.pdf",
        )
    assert "is a CSV" in refused.value.detail and "Allowed: PDF." in refused.value.detail


def test_the_portal_shows_the_refusal_under_the_file_field(personas, document):
    from django.test import Client

    client = Client()
    client.force_login(personas["engineer"])
    response = client.post(
        f"/documents/{document.pk}/attachments/",
        {"section": "methodology", "file": SimpleUploadedFile("report.pdf", pickle.dumps([1]))},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Python pickle" in html and 'id="id_file-error"' in html
    assert "Allowed, judged by the file&#x27;s content: PDF, PNG image" in html
    assert not DocumentAttachment.objects.exists()
