"""Documentation writes: create (pre-filled), save a section (a new revision), attach a file,
edit structured fields, sign off. Any edit after sign-off clears the sign-off.

An edit that would clear the sign-off of a production version's document says so first: it is
refused (409, `sign_off_would_lapse`) unless the caller confirms (`confirm_lapse=True`). Made,
it records a SignOffLapse (the version is flagged until the owner signs off again) and opens a
high finding for the model's owner, in the edit's transaction."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common import artifact_store, filetypes
from common.errors import Conflict, Forbidden, ValidationFailed
from governance import audit
from governance import permissions as perms
from governance.events import evidence_changed
from governance.models import DocumentTemplate, TierPolicy
from oversight.models import (
    Document,
    DocumentAttachment,
    DocumentRevision,
    DocumentSection,
    SignOffLapse,
)
from oversight.prefill import render as render_prefill
from oversight.services.findings import finding_open_for_lapse
from registry.choices import Stage

MAX_SECTION_CHARS = 200_000
FIELDS_KEY = "fields"

#: Structured fields the registry does not hold: name -> (type, help).
STRUCTURED_FIELDS: dict[str, tuple[type, str]] = {
    "intended_purpose": (str, "The intended purpose, in the provider's words (EU AI Act Art. 3(12))."),
    "restrictions_on_use": (str, "Uses the model must not be put to."),
    "known_limitations": (str, "Known limitations and foreseeable misuse."),
    "oversight_measures": (str, "Human oversight measures (EU AI Act Art. 14)."),
    "monitoring_plan": (str, "Ongoing monitoring: metrics, thresholds, frequency, owner."),
    "deployment_context": (str, "Where and by whom the model's output is used."),
    "vendor_model": (bool, "Is this a third-party / vendor model?"),
    "vendor_name": (str, "The vendor, if any."),
}


def _require(refusal: str | None) -> None:
    if refusal:
        raise Forbidden(refusal)


def _model_of(document: Document):
    return document.version.model


def _default_fields(facts: dict[str, Any]) -> dict[str, Any]:
    model = facts.get("model") or {}
    version = facts.get("version") or {}
    vendor = version.get("vendor") or {}
    return {
        "intended_purpose": model.get("intended_use") or "",
        "restrictions_on_use": "",
        "known_limitations": model.get("limitations") or "",
        "oversight_measures": "",
        "monitoring_plan": "",
        "deployment_context": model.get("business_use_case") or "",
        "vendor_model": version.get("kind") == "vendor",
        "vendor_name": vendor.get("name", "") if isinstance(vendor, dict) else "",
    }


def sign_off_at_stake(document: Document) -> str | None:
    """What an edit of `document` would do to a production version, in words (None when the
    document is not signed off or its version is not in production)."""
    version = document.version
    if document.signed_off_revision is None or version.stage != Stage.PRODUCTION:
        return None
    who = getattr(document.signed_off_by, "username", "the owner")
    owner = getattr(version.model.owner, "username", "its owner")
    return (f"{version.ref} is in production and its {document.template_slug} documentation is "
            f"signed off (revision {document.signed_off_revision}, by {who} on "
            f"{document.signed_off_at:%Y-%m-%d}). This edit clears that sign-off: the version "
            f"will be flagged as in production without signed-off documentation, and a high "
            f"finding will be opened for {owner}.")


def _require_lapse_confirmed(document: Document, confirm_lapse: bool) -> None:
    at_stake = sign_off_at_stake(document)
    if at_stake and not confirm_lapse:
        raise Conflict(at_stake + " Send confirm_lapse=true to make the edit.",
                       code="sign_off_would_lapse", errors={"confirm_lapse": [at_stake]})


def _lapse(document: Document, *, actor, edit: str, section_key: str = "") -> dict[str, Any] | None:
    """Before the sign-off is cleared: if it is a production version's, record the lapse and
    open the owner's finding. Returns what the edit's audit event says about it."""
    if sign_off_at_stake(document) is None:
        return None
    version = document.version
    who = getattr(document.signed_off_by, "username", None)
    finding = finding_open_for_lapse(
        document=document, section_key=section_key,
        title=f"Sign-off lapsed: {document.template_slug} documentation of {version.ref} "
              "(in production)",
        description=f"{getattr(actor, 'username', 'someone')} {edit} on "
                    f"{timezone.now():%Y-%m-%d %H:%M} UTC, clearing the sign-off of revision "
                    f"{document.signed_off_revision} by {who or 'the owner'} while {version.ref} is "
                    "in production. Review the change and sign the documentation off again.",
    )
    lapse = SignOffLapse.objects.create(
        document=document, version=version, signed_off_revision=document.signed_off_revision,
        signed_off_by=document.signed_off_by, signed_off_at=document.signed_off_at, edit=edit[:300],
        revision=document.revision, edited_by=actor, finding=finding, created_at=timezone.now(),
    )
    return {"lapse": lapse.pk, "finding": finding.pk, "signed_off_revision":
            lapse.signed_off_revision, "signed_off_by": who, "version_stage": version.stage}


def _clear_sign_off(document: Document) -> bool:
    was = document.signed_off_revision is not None
    document.signed_off_by = None
    document.signed_off_at = None
    document.signed_off_revision = None
    return was


def _new_revision(document: Document, *, key: str, text: str, actor, note: str = "") -> DocumentRevision:
    number = document.revision + 1
    now = timezone.now()
    revision = DocumentRevision.objects.create(
        document=document, number=number, section_key=key, text=text, author=actor,
        created_at=now, note=note[:200],
    )
    if key != FIELDS_KEY:
        DocumentSection.objects.update_or_create(
            document=document, key=key,
            defaults={"text": text, "revision_number": number, "updated_by": actor, "updated_at": now},
        )
    document.revision = number
    return revision


@transaction.atomic
def document_create(
    *, actor, version, template_slug: str, prefill: dict[str, Any] | None = None
) -> Document:
    """Start the documentation of `version` under the active template `template_slug`, pre-filling
    every section the registry and jobs already know about from `prefill` (facts; see
    oversight.prefill.facts_for_version). One document per version and template."""
    model = version.model
    _require(perms.explain_cannot_edit_documentation(actor, model))
    template = DocumentTemplate.objects.filter(slug=template_slug, is_active=True).first()
    if template is None:
        msg = f"No documentation template {template_slug!r}."
        raise ValidationFailed(msg, errors={"template": [msg]})
    if Document.objects.filter(version=version, template_slug=template_slug).exists():
        raise Conflict(f"{version.ref} already has a {template_slug} document.",
                       code="already_exists")
    facts = json.loads(json.dumps(prefill or {}, default=str))
    fields = _default_fields(facts)
    document = Document.objects.create(
        version=version, template=template, template_slug=template_slug, facts=facts,
        fields=fields, created_by=actor,
    )
    filled = []
    for section in template.sections:
        text = render_prefill(section.get("prefill", ""), facts, fields)
        if text:
            _new_revision(document, key=section["key"], text=text, actor=actor,
                          note="pre-filled from the registry")
            filled.append(section["key"])
    document.save(update_fields=["revision", "updated_at"])
    evidence_changed(model.name)  # live promotions re-judge after commit
    audit.record(
        action="governance.document.created", actor=actor, target=document,
        object_repr=f"{template_slug} documentation of {version.ref}", model_name=model.name,
        payload={"after": {"template": template_slug, "template_version": template.version,
                           "version": version.ref, "revision": document.revision,
                           "prefilled_sections": filled}},
    )
    return document


def _locked(document: Document) -> Document:
    return (Document.objects.select_for_update().select_related("template", "version__model")
            .get(pk=document.pk))


@transaction.atomic(durable=True)
def document_section_save(
    *, actor, document: Document, section_key: str, text: str, note: str = "",
    confirm_lapse: bool = False,
) -> DocumentRevision:
    """Save a section's Markdown as a new immutable revision. Saving after sign-off clears the
    sign-off (the owner must sign the new text); on a production version only when confirmed.
    Saving identical text changes nothing."""
    document = _locked(document)
    model = _model_of(document)
    _require(perms.explain_cannot_edit_documentation(actor, model))
    if document.template.section(section_key) is None:
        raise ValidationFailed(
            f"The {document.template_slug} template has no section {section_key!r}.",
            errors={"section": [f"Unknown section; use one of {', '.join(document.template.section_keys)}."]},
        )
    if len(text) > MAX_SECTION_CHARS:
        raise ValidationFailed(f"A section holds at most {MAX_SECTION_CHARS} characters.",
                               errors={"text": ["Too long."]})
    current = DocumentSection.objects.filter(document=document, key=section_key).first()
    if current is not None and current.text == text:
        return DocumentRevision.objects.get(document=document, number=current.revision_number)
    _require_lapse_confirmed(document, confirm_lapse)
    before_rev = current.revision_number if current else None
    revision = _new_revision(document, key=section_key, text=text, actor=actor, note=note)
    lapsed = _lapse(document, actor=actor, edit=f"saved section {section_key} as revision "
                    f"{revision.number}", section_key=section_key)
    cleared = _clear_sign_off(document)
    document.save()
    evidence_changed(model.name)  # live promotions re-judge after commit
    audit.record(
        action="governance.document.section_saved", actor=actor, target=document,
        object_repr=f"{document.template_slug} documentation of {document.version.ref}",
        model_name=model.name,
        payload={"section": section_key, "before": {"revision": before_rev},
                 "after": {"revision": revision.number,
                           "sha256": hashlib.sha256(text.encode()).hexdigest(),
                           "chars": len(text)},
                 "sign_off_cleared": cleared, **({"sign_off_lapsed": lapsed} if lapsed else {})},
    )
    return revision


@transaction.atomic(durable=True)
def document_fields_update(
    *, actor, document: Document, fields: dict[str, Any], confirm_lapse: bool = False
) -> Document:
    """Edit the structured fields (intended purpose, oversight measures, vendor model …). Recorded
    as a revision of the 'fields' pseudo-section; clears a sign-off like any edit (on a
    production version only when confirmed)."""
    document = _locked(document)
    model = _model_of(document)
    _require(perms.explain_cannot_edit_documentation(actor, model))
    errors: dict[str, list[str]] = {}
    for key, value in fields.items():
        spec = STRUCTURED_FIELDS.get(key)
        if spec is None:
            errors[key] = [f"Unknown field; use {', '.join(STRUCTURED_FIELDS)}."]
        elif not isinstance(value, spec[0]):
            errors[key] = ["Must be true or false." if spec[0] is bool else "Must be text."]
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first][0]}", errors=errors)
    before = {k: document.fields.get(k) for k in fields if document.fields.get(k) != fields[k]}
    if not before:
        return document
    _require_lapse_confirmed(document, confirm_lapse)
    after = {k: fields[k] for k in before}
    document.fields = {**document.fields, **after}
    _new_revision(document, key=FIELDS_KEY, actor=actor, note="structured fields",
                  text=json.dumps(document.fields, sort_keys=True, indent=2))
    lapsed = _lapse(document, actor=actor, edit=f"edited the structured fields "
                    f"({', '.join(sorted(after))}) as revision {document.revision}")
    cleared = _clear_sign_off(document)
    document.save()
    evidence_changed(model.name)  # live promotions re-judge after commit
    audit.record(
        action="governance.document.fields_updated", actor=actor, target=document,
        object_repr=f"{document.template_slug} documentation of {document.version.ref}",
        model_name=model.name,
        payload={"before": before, "after": after, "revision": document.revision,
                 "sign_off_cleared": cleared, **({"sign_off_lapsed": lapsed} if lapsed else {})},
    )
    return document


def _store_attachment(upload: BinaryIO, limit: int, name: str) -> tuple[str, str, int, str]:
    """Stream the upload to staging while hashing, check its kind by content against
    DOCUMENT_ATTACHMENT_TYPES (a refused file is not stored), then store it under documents/ by
    sha256. Returns (sha256, key, size, media type of the detected kind)."""
    staged = artifact_store.stage(
        upload, max_bytes=limit, too_large=f"An attachment may be at most {limit} bytes."
    )
    try:
        kind = filetypes.check_allowed(staged.path, settings.DOCUMENT_ATTACHMENT_TYPES)
    except filetypes.KindNotAllowed as exc:
        staged.discard()
        msg = f"{name}: {exc}"
        raise ValidationFailed(msg, errors={"file": [msg]}, code="file_type_not_allowed") from exc
    except BaseException:
        staged.discard()
        raise
    sha, size = staged.sha256, staged.size
    return sha, artifact_store.put(staged, prefix="documents/"), size, filetypes.media_type(kind)


@transaction.atomic(durable=True)
def document_attachment_add(
    *, actor, document: Document, section_key: str, upload: BinaryIO, filename: str,
    content_type: str = "", confirm_lapse: bool = False,
) -> DocumentAttachment:
    """Attach a file (evidence, a report) to a section. Only the kinds DOCUMENT_ATTACHMENT_TYPES
    allows, judged by content, are kept (stored by sha256, recorded with the detected media
    type, not the one the client claimed); clears a sign-off (on a production version only when
    confirmed, which is asked before the file is stored)."""
    model = _model_of(document)
    _require(perms.explain_cannot_edit_documentation(actor, model))
    _require_lapse_confirmed(document, confirm_lapse)
    if document.template.section(section_key) is None:
        raise ValidationFailed(f"The {document.template_slug} template has no section {section_key!r}.",
                               errors={"section": ["Unknown section."]})
    name = os.path.basename(filename or "attachment")[:255]
    sha, rel, size, content_type = _store_attachment(upload, settings.MAX_ARTIFACT_BYTES, name)
    document = _locked(document)
    _require_lapse_confirmed(document, confirm_lapse)  # as it is now, under the lock
    current = DocumentSection.objects.filter(document=document, key=section_key).first()
    revision = _new_revision(document, key=section_key, text=current.text if current else "",
                             actor=actor, note=f"attached {name} ({sha[:12]})")
    attachment = DocumentAttachment.objects.create(
        document=document, section_key=section_key, name=name, content_type=content_type[:100],
        sha256=sha, size=size, storage_path=rel, revision_number=revision.number,
        uploaded_by=actor,
    )
    lapsed = _lapse(document, actor=actor, edit=f"attached {name} to section {section_key} as "
                    f"revision {revision.number}", section_key=section_key)
    cleared = _clear_sign_off(document)
    document.save()
    evidence_changed(model.name)  # live promotions re-judge after commit
    audit.record(
        action="governance.document.attachment_added", actor=actor, target=document,
        object_repr=f"{document.template_slug} documentation of {document.version.ref}",
        model_name=model.name,
        payload={"section": section_key, "after": {"name": name, "sha256": sha, "size": size,
                                                   "revision": revision.number},
                 "sign_off_cleared": cleared, **({"sign_off_lapsed": lapsed} if lapsed else {})},
    )
    return attachment


def required_sections(document: Document, tier: int | None) -> list[str]:
    """The section keys that must be filled: the tier policy's list for this template, or the
    template's own `required` flags when the model has no tier (or no policy names this template)."""
    if tier:
        policy = TierPolicy.objects.filter(tier=tier, is_active=True).first()
        if policy is not None:
            keys = (policy.rules.get("required_document_sections") or {}).get(document.template_slug)
            if keys is not None:
                return list(keys)
    return [s["key"] for s in document.template.sections if s.get("required")]


@transaction.atomic(durable=True)
def document_sign_off(*, actor, document: Document) -> Document:
    """The model owner signs off the document at its current revision. Every required section must
    have text first; a later edit clears the sign-off."""
    document = _locked(document)
    model = _model_of(document)
    _require(perms.explain_cannot_sign_off(actor, model))
    if document.is_signed_off:
        raise Conflict(f"Revision {document.revision} is already signed off.", code="already_signed_off")
    texts = dict(DocumentSection.objects.filter(document=document).values_list("key", "text"))
    empty = [k for k in required_sections(document, model.risk_tier) if not (texts.get(k) or "").strip()]
    if empty:
        msg = "Fill in every required section before signing off: " + ", ".join(empty) + "."
        raise ValidationFailed(msg, errors={"sections": empty}, code="incomplete")
    document.signed_off_by = actor
    document.signed_off_at = timezone.now()
    document.signed_off_revision = document.revision
    document.save()
    resolved = list(SignOffLapse.objects.filter(document=document, resolved_at__isnull=True)
                    .values_list("pk", flat=True))
    SignOffLapse.objects.filter(pk__in=resolved).update(resolved_at=document.signed_off_at)
    evidence_changed(model.name)  # live promotions re-judge after commit
    audit.record(
        action="governance.document.signed_off", actor=actor, target=document,
        object_repr=f"{document.template_slug} documentation of {document.version.ref}",
        model_name=model.name,
        payload={"after": {"signed_off_revision": document.revision,
                           "signed_off_by": actor.username},
                 **({"lapses_resolved": resolved} if resolved else {})},
    )
    return document
