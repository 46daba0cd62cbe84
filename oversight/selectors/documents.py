"""Documentation reads: a version's documents, revisions and diffs, completeness under a tier
policy, the regulatory coverage matrix, vendor validation reports."""

from __future__ import annotations

import difflib
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from common.errors import NotFound
from governance import permissions as perms
from governance import selectors as gov_selectors
from governance.doc_templates import VENDOR_VALIDATION_REPORT_SECTION
from governance.models import TierPolicy
from oversight.models import Document, DocumentAttachment, DocumentRevision, DocumentSection
from oversight.services.documents import required_sections


def _documents() -> QuerySet[Document]:
    return Document.objects.select_related(
        "template", "version__model__team", "version__model__owner", "signed_off_by", "created_by",
    ).prefetch_related(
        Prefetch("sections", queryset=DocumentSection.objects.select_related("updated_by")),
        "attachments",
    )


def documents_for_version(version) -> list[Document]:
    return list(_documents().filter(version=version).order_by("template_slug"))


def documents_for_versions(version_ids: list[int]) -> list[Document]:
    """The documents of several versions with their sections and attachments: three queries
    whatever the number of versions (the compliance evaluator's read)."""
    return list(_documents().filter(version_id__in=version_ids).order_by("version_id", "template_slug"))


def document_get(pk: int) -> Document:
    return _documents().get(pk=pk)


def document_get_for_user(user, pk: int | str) -> Document:
    """A document whose model the user may see (404 otherwise)."""
    document = _documents().filter(pk=pk).first() if str(pk).isdigit() else None
    if document is None or not perms.can_view_model(user, document.version.model):
        raise NotFound(f"No document {pk} that you can see.")
    return document


def document_revisions(document: Document) -> QuerySet[DocumentRevision]:
    return DocumentRevision.objects.filter(document=document).select_related("author").order_by("number")


def revision_diff(document: Document, number: int) -> dict[str, Any]:
    """A revision and the unified diff against the previous revision of the same section."""
    revision = document_revisions(document).filter(number=number).first()
    if revision is None:
        raise NotFound(f"The document has no revision {number}.")
    previous = (document_revisions(document)
                .filter(section_key=revision.section_key, number__lt=number).order_by("-number").first())
    old = previous.text if previous else ""
    diff = "".join(difflib.unified_diff(
        old.splitlines(keepends=True), revision.text.splitlines(keepends=True),
        fromfile=f"{revision.section_key} @ revision {previous.number if previous else 0}",
        tofile=f"{revision.section_key} @ revision {revision.number}",
    ))
    return {"number": revision.number, "section": revision.section_key,
            "previous_number": previous.number if previous else None,
            "author": getattr(revision.author, "username", None),
            "created_at": revision.created_at, "note": revision.note, "diff": diff}


def document_completeness(version, policy: TierPolicy) -> dict[str, Any]:
    """Is the version's documentation complete under `policy`: every required section of every
    template the policy names non-empty, and each such document signed off at its current revision.

    Returns {"complete", "missing": ["<slug>:<section>" or "<slug>" when the document does not
    exist], "unsigned": [slugs], "revision_ids": [ids of the revisions the documents stand at],
    "documents": [{id, template, revision, signed_off, ...}]}.
    """
    required: dict[str, list[str]] = dict(policy.rules.get("required_document_sections") or {})
    docs = {d.template_slug: d for d in documents_for_version(version)}
    missing: list[str] = []
    unsigned: list[str] = []
    for slug, keys in sorted(required.items()):
        doc = docs.get(slug)
        if doc is None:
            missing.append(slug)
            continue
        texts = {s.key: s.text for s in doc.sections.all()}
        missing += [f"{slug}:{k}" for k in keys if not (texts.get(k) or "").strip()]
        if not doc.is_signed_off:
            unsigned.append(slug)
    heads = Q()
    for d in docs.values():
        heads |= Q(document_id=d.pk, number=d.revision)
    revision_ids = (
        sorted(DocumentRevision.objects.filter(heads).values_list("id", flat=True)) if heads else []
    )
    return {
        "complete": not missing and not unsigned,
        "missing": missing,
        "unsigned": unsigned,
        "revision_ids": revision_ids,
        "documents": [
            {"id": d.pk, "template": slug, "revision": d.revision, "signed_off": d.is_signed_off,
             "signed_off_by": getattr(d.signed_off_by, "username", None),
             "signed_off_at": d.signed_off_at, "signed_off_revision": d.signed_off_revision,
             "required": slug in required}
            for slug, d in sorted(docs.items())
        ],
        "policy": {"tier": policy.tier, "version": policy.version},
    }


def revisions_by_id(ids) -> dict[int, dict[str, Any]]:
    """Document revisions named by database id (a promotion's evidence binds approvals to them),
    as people name them: {id: {"id", "document_id", "template", "title", "number", "label"}},
    "label" reading "SR 11-7 model documentation revision 3". One query whatever the count."""
    ids = [int(i) for i in ids or [] if str(i).isdigit()]
    if not ids:
        return {}
    rows = DocumentRevision.objects.filter(pk__in=ids).select_related("document__template")
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        title = r.document.template.title if r.document.template_id else r.document.template_slug
        out[r.pk] = {"id": r.pk, "document_id": r.document_id, "template": r.document.template_slug,
                     "title": title, "number": r.number, "label": f"{title} revision {r.number}"}
    return out


def coverage_matrix(version) -> list[dict[str, Any]]:
    """Per regulatory source: which template sections answer it, and whether they are filled
    and signed off for this version (the portal's coverage matrix)."""
    docs = {d.template_slug: d for d in documents_for_version(version)}
    rows: dict[str, dict[str, Any]] = {}
    for template in gov_selectors.template_list():
        doc = docs.get(template.slug)
        texts = {s.key: s.text for s in doc.sections.all()} if doc else {}
        for section in template.sections:
            filled = bool((texts.get(section["key"]) or "").strip())
            for source in section.get("sources", []):
                row = rows.setdefault(source, {"source": source, "sections": []})
                row["sections"].append({
                    "template": template.slug, "section": section["key"], "title": section["title"],
                    "document_id": doc.pk if doc else None, "filled": filled,
                    "signed_off": bool(doc and doc.is_signed_off and filled),
                })
    for row in rows.values():
        row["covered"] = any(s["filled"] for s in row["sections"])
        row["signed_off"] = any(s["signed_off"] for s in row["sections"])
    return sorted(rows.values(), key=lambda r: r["source"])


def vendor_validation_reports(version) -> list[dict[str, Any]]:
    """The files attached to the vendor validation report section of any of `version`'s documents
    (newest first): what the `vendor_validation_report` evidence gate of a vendor version judges.
    Each: {"attachment_id", "document_id", "template", "name", "sha256", "size", "revision",
    "uploaded_by", "created_at"}."""
    found = (
        DocumentAttachment.objects.filter(
            document__version=version, section_key=VENDOR_VALIDATION_REPORT_SECTION
        )
        .select_related("document", "uploaded_by")
        .order_by("-created_at", "-id")
    )
    return [
        {"attachment_id": a.pk, "document_id": a.document_id, "template": a.document.template_slug,
         "name": a.name, "sha256": a.sha256, "size": a.size, "revision": a.revision_number,
         "uploaded_by": getattr(a.uploaded_by, "username", None), "created_at": a.created_at}
        for a in found
    ]


def document_required_sections(document: Document) -> list[str]:
    return required_sections(document, document.version.model.risk_tier)
