"""Validation findings: open, respond (the challenge and the answer are evidence), transition."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from common import workflow
from common.errors import Forbidden, ValidationFailed
from governance import audit, notify
from governance import permissions as perms
from governance.events import evidence_changed
from oversight.choices import FINDING_TRANSITIONS, FindingStatus, Severity
from oversight.models import Document, Finding, FindingResponse


def _require(refusal: str | None) -> None:
    if refusal:
        raise Forbidden(refusal)


def _link(finding: Finding) -> str:
    return f"/findings/{finding.pk}/"


@transaction.atomic(durable=True)
def finding_open(
    *,
    actor,
    model,
    title: str,
    severity: str,
    description: str = "",
    version=None,
    document: Document | None = None,
    section_key: str = "",
    owner=None,
    due_date: dt.date | None = None,
) -> Finding:
    """A validator (or compliance) raises a finding on a model, optionally on one version and one
    documentation section. Its owner (default: the model owner) is notified."""
    _require(perms.explain_cannot_open_finding(actor, model))
    errors: dict[str, list[str]] = {}
    if not (title or "").strip():
        errors["title"] = ["A finding needs a title."]
    if severity not in Severity.values:
        errors["severity"] = [f"Choose one of: {', '.join(Severity.values)}."]
    if version is not None and version.model_id != model.pk:
        errors["version"] = [f"Version {version.ref} is not a version of {model.name}."]
    if document is not None:
        if document.version.model_id != model.pk:
            errors["document"] = ["The document belongs to another model."]
        elif version is not None and document.version_id != version.pk:
            errors["document"] = ["The document belongs to another version."]
        elif section_key and document.template.section(section_key) is None:
            errors["section_key"] = [f"The {document.template_slug} template has no such section."]
    if due_date is not None and due_date < timezone.localdate():
        errors["due_date"] = ["The due date is in the past."]
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first][0]}", errors=errors)
    owner = owner or model.owner
    finding = Finding.objects.create(
        model=model, version=version, document=document, section_key=section_key,
        title=title.strip()[:200], description=description, severity=severity, owner=owner,
        due_date=due_date, opened_by=actor,
    )
    evidence_changed(model.name)  # live promotions re-judge after commit
    audit.record(
        action="governance.finding.opened", actor=actor, target=finding, model_name=model.name,
        payload={"after": {"title": finding.title, "severity": severity, "status": finding.status,
                           "version": version.ref if version else None,
                           "section_key": section_key,
                           "owner": owner.username if owner else None,
                           "due_date": due_date.isoformat() if due_date else None}},
    )
    notify([owner.pk if owner else None],
           f"New {severity} finding on {model.name}: {finding.title}",
           f"{actor.username} opened a {severity} finding on {model.name}.\n\n{description}",
           _link(finding))
    return finding


def finding_open_for_lapse(*, document: Document, section_key: str, title: str,
                           description: str) -> Finding:
    """The system opens a high finding for the model's owner when an edit cleared the sign-off
    of a production version's document (inside that edit's transaction; see
    documents.document_*). Nobody chose to raise it, so it is the system's (no actor)."""
    version = document.version
    model = version.model
    owner = model.owner
    finding = Finding.objects.create(
        model=model, version=version, document=document, section_key=section_key,
        title=title[:200], description=description, severity=Severity.HIGH, owner=owner,
        due_date=timezone.localdate() + dt.timedelta(days=14), opened_by=None,
    )
    evidence_changed(model.name)
    audit.record(
        action="governance.finding.opened", actor=None, target=finding, model_name=model.name,
        payload={"after": {"title": finding.title, "severity": finding.severity,
                           "status": finding.status, "version": version.ref,
                           "section_key": section_key,
                           "owner": owner.username if owner else None,
                           "due_date": finding.due_date.isoformat()},
                 "reason": "sign-off lapsed on a production version"},
    )
    notify([owner.pk if owner else None], f"Sign-off lapsed on {version.ref} in production",
           description, _link(finding))
    return finding


class InvalidFindingTransition(workflow.IllegalTransition):
    code = "invalid_transition"


def _locked(finding: Finding) -> Finding:
    return Finding.objects.select_for_update().select_related("model").get(pk=finding.pk)


@transaction.atomic(durable=True)
def finding_respond(*, actor, finding: Finding, body: str) -> FindingResponse:
    """Add a message to the thread. The thread is never edited: it is the evidence of the challenge."""
    finding = _locked(finding)
    _require(perms.explain_cannot_respond_to_finding(actor, finding.model))
    if not (body or "").strip():
        raise ValidationFailed("A response needs some text.", errors={"body": ["Required."]})
    response = FindingResponse.objects.create(finding=finding, author=actor, body=body)
    evidence_changed(finding.model.name)  # live promotions re-judge after commit
    audit.record(
        action="governance.finding.responded", actor=actor, target=finding,
        model_name=finding.model.name,
        payload={"response_id": response.pk, "chars": len(body), "status": finding.status},
    )
    notify([finding.owner_id, finding.opened_by_id, finding.model.owner_id],
           f"New response on finding: {finding.title}",
           f"{actor.username} wrote:\n\n{body}", _link(finding))
    return response


@transaction.atomic(durable=True)
def finding_transition(
    *, actor, finding: Finding, to_status: str, justification: str = "", note: str = ""
) -> Finding:
    """The one function that moves a finding: lock it, check the move against the transition
    table and the permission rule, record a thread entry and one audit event, save.
    Accepting a risk needs a written justification."""
    finding = _locked(finding)
    if to_status not in FindingStatus.values:
        raise ValidationFailed(f"Unknown status {to_status!r}.",
                               errors={"status": [f"Choose one of: {', '.join(FindingStatus.values)}."]})
    _require(perms.explain_cannot_move_finding(actor, finding.model, finding.owner_id, to_status))
    justification = (justification or "").strip()
    if to_status == FindingStatus.ACCEPTED and not justification:
        msg = "Accepting a finding's risk needs a written justification."
        raise ValidationFailed(msg, errors={"justification": [msg]})
    changes = {"resolved_at": timezone.now() if to_status in (
        FindingStatus.ACCEPTED, FindingStatus.CLOSED) else None}
    if to_status == FindingStatus.ACCEPTED:
        changes["justification"] = justification

    def record(before: str) -> None:
        FindingResponse.objects.create(
            finding=finding, author=actor, status_from=before, status_to=to_status,
            body=justification or note or f"Status changed from {before} to {to_status}.",
        )
        evidence_changed(finding.model.name)  # live promotions re-judge after commit
        audit.record(
            action="governance.finding.transitioned", actor=actor, target=finding,
            model_name=finding.model.name,
            payload={"before": {"status": before}, "after": {"status": to_status},
                     "justification": justification, "note": note},
        )

    before = workflow.transition(
        finding, to_status, table=FINDING_TRANSITIONS, record=record, changes=changes,
        locked=True, name=f"Finding #{finding.pk}", error=InvalidFindingTransition,
    )
    notify([finding.owner_id, finding.opened_by_id],
           f"Finding {to_status}: {finding.title}",
           f"{actor.username} moved the finding from {before} to {to_status}.", _link(finding))
    return finding
