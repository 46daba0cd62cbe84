"""Portal pages of one document (a model version's documentation under one template): its
sections (required ones marked), the Markdown editor with a live preview, revisions and their
diffs, the structured fields, attachments, the owner's sign-off and the export links.

Every write goes through governance.services; who may edit or sign off is asked of
governance.permissions. The version's page (registry.views) lists the documents, starts a missing
one from its template and shows the coverage matrix.
"""

from __future__ import annotations

import difflib

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from common import filetypes
from common.errors import DomainError, Forbidden, NotFound
from common.portal import form_errors_from, paginate, portal_view
from governance import permissions as perms
from governance.models import AuditEvent
from oversight import selectors, services
from oversight.export import markdown_to_html
from oversight.models import Document
from oversight.services.documents import MAX_SECTION_CHARS

SIGNED_OFF = "governance.document.signed_off"

# --- forms ----------------------------------------------------------------------------------


class SectionForm(forms.Form):
    text = forms.CharField(
        required=False, max_length=MAX_SECTION_CHARS, label="Text (Markdown)", strip=False,
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "true"}),
    )
    note = forms.CharField(required=False, max_length=200, label="What changed (optional)")
    confirm_lapse = forms.BooleanField(required=False)


class FieldsForm(forms.Form):
    """The template's structured fields, built from governance's STRUCTURED_FIELDS."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, (kind, help_text) in services.STRUCTURED_FIELDS.items():
            label = name.replace("_", " ").capitalize()
            if kind is bool:
                self.fields[name] = forms.BooleanField(required=False, label=label, help_text=help_text)
            else:
                self.fields[name] = forms.CharField(
                    required=False, label=label, help_text=help_text,
                    widget=forms.Textarea(attrs={"rows": 2}),
                )
        self.fields["confirm_lapse"] = forms.BooleanField(required=False)


class AttachmentForm(forms.Form):
    section = forms.ChoiceField(label="Section")
    file = forms.FileField()
    confirm_lapse = forms.BooleanField(required=False)

    def __init__(self, *args, sections=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["section"].choices = [(s["key"], s["title"]) for s in sections]
        allowed = ", ".join(filetypes.label(k) for k in settings.DOCUMENT_ATTACHMENT_TYPES)
        self.fields["file"].help_text = f"Allowed, judged by the file's content: {allowed}."


# --- helpers --------------------------------------------------------------------------------


def _document(request: HttpRequest, pk: int) -> Document:
    return selectors.document_get_for_user(request.user, pk)


def _sections(document: Document, required: set[str]) -> list[dict]:
    """The template's sections with their current text (from the prefetched rows), rendered."""
    current = {s.key: s for s in document.sections.all()}
    attachments: dict[str, list] = {}
    rows = list(document.attachments.all())
    prefetch_related_objects(rows, "uploaded_by")  # one query for every uploader's name
    for a in rows:
        attachments.setdefault(a.section_key, []).append(a)
    out = []
    for spec in document.template.sections:
        row = current.get(spec["key"])
        text = row.text if row else ""
        out.append({
            "key": spec["key"], "title": spec["title"], "guidance": spec.get("guidance", ""),
            "sources": spec.get("sources", []), "required": spec["key"] in required,
            "text": text, "html": markdown_to_html(text) if text.strip() else "",
            "empty": not text.strip(), "row": row,
            "attachments": attachments.get(spec["key"], []),
        })
    return out


def _detail_context(request: HttpRequest, document: Document, *, fields_form=None,
                    attachment_form=None) -> dict:
    model = document.version.model
    required = set(selectors.document_required_sections(document))
    sections = _sections(document, required)
    trail = list(AuditEvent.objects.filter(
        object_type="governance.document", object_id=str(document.pk)
    ).order_by("-seq")[:50])
    edit_refusal = perms.explain_cannot_edit_documentation(request.user, model)
    sign_off_refusal = perms.explain_cannot_sign_off(request.user, model)
    if edit_refusal is None:
        fields_form = fields_form or FieldsForm(initial=document.fields)
        attachment_form = attachment_form or AttachmentForm(sections=document.template.sections)
    return {
        "document": document, "version": document.version, "model": model,
        "sections": sections, "at_stake": selectors.sign_off_at_stake(document),
        "missing_required": [s for s in sections if s["required"] and s["empty"]],
        "edit_refusal": edit_refusal, "sign_off_refusal": sign_off_refusal,
        "can_open_finding": perms.explain_cannot_open_finding(request.user, model) is None,
        "fields_form": fields_form if edit_refusal is None else None,
        "attachment_form": attachment_form if edit_refusal is None else None,
        "field_specs": [
            {"name": name, "label": name.replace("_", " ").capitalize(), "help": help_text,
             "value": document.fields.get(name)}
            for name, (_, help_text) in services.STRUCTURED_FIELDS.items()
        ],
        "findings": list(selectors.finding_list_for_user(request.user).filter(document=document)),
        "trail": trail,
        "last_sign_off": next((e for e in trail if e.action == SIGNED_OFF), None),
    }


def _cleared(was_signed: bool, at_stake: str | None) -> str:
    """What the success message adds about the sign-off the edit cleared."""
    if at_stake:
        return (" The edit cleared the production version's sign-off: the version is flagged on "
                "the dashboard and a finding was opened for its owner, who must sign off again.")
    if was_signed:
        return " The edit cleared the sign-off: the model owner must sign off again."
    return ""


def _to_document(document: Document, anchor: str = "") -> HttpResponse:
    url = reverse("oversight:document-detail", args=[document.pk])
    return redirect(url + (f"#{anchor}" if anchor else ""))


# --- pages ----------------------------------------------------------------------------------


@portal_view
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = _document(request, pk)
    return render(request, "oversight/document_detail.html", _detail_context(request, document))


@portal_view
def section_edit(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    """GET: the Markdown editor (with a live preview). POST: save the text as a new revision;
    saving after sign-off clears the sign-off, and the page says so."""
    document = _document(request, pk)
    spec = document.template.section(key)
    if spec is None:
        raise NotFound(f"The {document.template_slug} template has no section {key!r}.")
    refusal = perms.explain_cannot_edit_documentation(request.user, document.version.model)
    if refusal:
        raise Forbidden(refusal)
    current = next((s for s in document.sections.all() if s.key == key), None)
    at_stake = selectors.sign_off_at_stake(document)
    if request.method == "POST":
        form = SectionForm(request.POST)
        if form.is_valid():
            was_signed = document.is_signed_off
            try:
                revision = services.document_section_save(
                    actor=request.user, document=document, section_key=key,
                    text=form.cleaned_data["text"], note=form.cleaned_data["note"],
                    confirm_lapse=form.cleaned_data["confirm_lapse"],
                )
            except DomainError as exc:
                form_errors_from(form, exc)
            else:
                if current is not None and revision.number == current.revision_number:
                    messages.info(request, f"“{spec['title']}” is unchanged: no new revision.")
                else:
                    text = f"Saved “{spec['title']}” as revision {revision.number}."
                    text += _cleared(was_signed, at_stake)
                    messages.success(request, text)
                return _to_document(document, f"section-{key}")
        status = 400
    else:
        form = SectionForm(initial={"text": current.text if current else ""})
        status = 200
    text = form.data.get("text") if form.is_bound else form.initial.get("text", "")
    required = set(selectors.document_required_sections(document))
    return render(request, "oversight/section_edit.html", {
        "document": document, "version": document.version, "model": document.version.model,
        "spec": spec, "required": key in required, "form": form, "current": current,
        "preview": markdown_to_html(text or ""), "at_stake": at_stake,
    }, status=status)


@require_POST
@portal_view
def section_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The htmx preview: Markdown rendered and sanitised exactly as the exports render it."""
    document = _document(request, pk)
    refusal = perms.explain_cannot_edit_documentation(request.user, document.version.model)
    if refusal:
        raise Forbidden(refusal)
    text = request.POST.get("text", "")[:MAX_SECTION_CHARS]
    return render(request, "oversight/_markdown_preview.html", {"html": markdown_to_html(text)})


@require_POST
@portal_view
def fields_update(request: HttpRequest, pk: int) -> HttpResponse:
    document = _document(request, pk)
    refusal = perms.explain_cannot_edit_documentation(request.user, document.version.model)
    if refusal:
        raise Forbidden(refusal)
    form = FieldsForm(request.POST)
    if form.is_valid():
        was_signed = document.is_signed_off
        at_stake = selectors.sign_off_at_stake(document)
        before = document.revision
        fields = dict(form.cleaned_data)
        confirm = fields.pop("confirm_lapse", False)
        try:
            document = services.document_fields_update(
                actor=request.user, document=document, fields=fields, confirm_lapse=confirm,
            )
        except DomainError as exc:
            form_errors_from(form, exc)
        else:
            if document.revision == before:
                messages.info(request, "The structured fields are unchanged.")
            else:
                text = f"Structured fields saved as revision {document.revision}."
                text += _cleared(was_signed, at_stake)
                messages.success(request, text)
            return _to_document(document, "fields")
    document = _document(request, pk)
    return render(request, "oversight/document_detail.html",
                  _detail_context(request, document, fields_form=form), status=400)


@require_POST
@portal_view
def attachment_add(request: HttpRequest, pk: int) -> HttpResponse:
    document = _document(request, pk)
    refusal = perms.explain_cannot_edit_documentation(request.user, document.version.model)
    if refusal:
        raise Forbidden(refusal)
    form = AttachmentForm(request.POST, request.FILES, sections=document.template.sections)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        was_signed = document.is_signed_off
        at_stake = selectors.sign_off_at_stake(document)
        try:
            attachment = services.document_attachment_add(
                actor=request.user, document=document, section_key=form.cleaned_data["section"],
                upload=upload, filename=upload.name,
                content_type=getattr(upload, "content_type", "") or "",
                confirm_lapse=form.cleaned_data["confirm_lapse"],
            )
        except DomainError as exc:
            form_errors_from(form, exc)
        else:
            text = f"Attached {attachment.name} (sha256 {attachment.sha256[:12]}…)."
            text += _cleared(was_signed, at_stake)
            messages.success(request, text)
            return _to_document(document, f"section-{attachment.section_key}")
    document = _document(request, pk)
    return render(request, "oversight/document_detail.html",
                  _detail_context(request, document, attachment_form=form), status=400)


@require_POST
@portal_view
def sign_off(request: HttpRequest, pk: int) -> HttpResponse:
    """The model owner signs off the current revision (the service says why anyone else may not,
    and which required sections are still empty)."""
    document = _document(request, pk)
    try:
        document = services.document_sign_off(actor=request.user, document=document)
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        messages.error(request, exc.detail)
        return _to_document(document, "sign-off")
    messages.success(request, f"Signed off revision {document.signed_off_revision}.")
    return _to_document(document, "sign-off")


@portal_view
def revision_list(request: HttpRequest, pk: int) -> HttpResponse:
    document = _document(request, pk)
    titles = {s["key"]: s["title"] for s in document.template.sections}
    titles["fields"] = "Structured fields"
    page = paginate(request, selectors.document_revisions(document).order_by("-number"))
    return render(request, "oversight/revision_list.html", {
        "document": document, "version": document.version, "model": document.version.model,
        "page": page, "titles": titles,
    })


def _diff_lines(old: str, new: str, fromfile: str, tofile: str) -> list[tuple[str, str]]:
    """The unified diff as (kind, line) rows for display. Lines are compared without their
    endings, so a last line lacking a newline does not run into the next one."""
    out = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), fromfile=fromfile,
                                     tofile=tofile, lineterm=""):
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        out.append((kind, line))
    return out


@portal_view
def revision_detail(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """One revision: its text and the diff against the previous revision of the same section."""
    document = _document(request, pk)
    diff = selectors.revision_diff(document, number)
    revisions = selectors.document_revisions(document)
    revision = revisions.get(number=number)
    previous = revisions.get(number=diff["previous_number"]) if diff["previous_number"] else None
    spec = document.template.section(revision.section_key)
    lines = _diff_lines(
        previous.text if previous else "", revision.text,
        f"{revision.section_key} @ revision {previous.number if previous else 0}",
        f"{revision.section_key} @ revision {revision.number}",
    )
    return render(request, "oversight/revision_detail.html", {
        "document": document, "version": document.version, "model": document.version.model,
        "diff": diff, "lines": lines, "revision": revision,
        "title": spec["title"] if spec else "Structured fields",
        "html": markdown_to_html(revision.text) if spec else "",
    })
