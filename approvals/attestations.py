"""Signed release attestations: what was decided, by whom, on which evidence, for which artifact.

Written in the transaction of a promotion's execution (one call from services._execute_or_hold):
an in-toto Statement v1 with our predicate type, in a DSSE envelope signed by the audit log's
Ed25519 key (governance.auditlog.signing). The predicate names the audit position of the
promotion's `executed` event; the checkpoint that seals it does not exist yet at that moment
(sealing happens after commit), so readers link it from the position (attestation_dict) and an
outside verifier checks the event's inclusion proof against a signed checkpoint.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

from django.db.models import QuerySet

from approvals.choices import DecisionKind
from approvals.models import PromotionRequest, ReleaseAttestation
from explainability import selectors as evidence_selectors
from governance import audit
from governance.auditlog import proofs, signing
from governance.models import AuditEvent

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://gatehouse.dev/promotion/v1"


def _evidence(req: PromotionRequest) -> list[dict[str, Any]]:
    """Every evidence item the approvals were bound to, with what pins it down."""
    snap = req.evidence or {}
    items: list[dict[str, Any]] = []
    job_ids = {k: v for k, v in (snap.get("jobs") or {}).items() if v}
    jobs = {j.pk: j for j in evidence_selectors.jobs_for_version(req.version)
            .filter(pk__in=list(job_ids.values()))}
    for key, job_id in sorted(job_ids.items()):
        job = jobs.get(job_id)
        item: dict[str, Any] = {"type": "job", "key": key, "job_id": job_id}
        if job is not None:
            item.update(
                kind=job.kind, status=job.status, artifact_sha256=job.artifact_sha256,
                data_sha256=job.data_sha256,
                result_sha256=hashlib.sha256(audit.canonical_json(job.result).encode()).hexdigest()
                if job.result is not None else None)
        items.append(item)
    for revision_id in snap.get("document_revisions") or []:
        items.append({"type": "document_revision", "revision_id": revision_id})
    for key in ("risk_assessment", "datasets", "open_findings", "vendor_validation_report"):
        if snap.get(key) not in (None, [], ""):
            items.append({"type": key, "value": snap[key]})
    return items


def _approvals(req: PromotionRequest) -> list[dict[str, Any]]:
    out = []
    decisions = (req.decisions.filter(decision=DecisionKind.APPROVE)
                 .select_related("approver").prefetch_related("conditions").order_by("id"))
    for d in decisions:
        out.append({
            "approver": d.approver.username, "role": d.role,
            "decided_at": audit.format_timestamp(d.created_at), "comment": d.comment,
            "conditions": [{"text": c.text, "due_date": c.due_date.isoformat()}
                           for c in d.conditions.all()],
        })
    return out


def statement_for(req: PromotionRequest, *, audit_position: int, now: dt.datetime) -> dict:
    version = req.version
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f"{req.model.name}@{version.version}",
                     "digest": {"sha256": version.artifact_sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "model": req.model.name, "version": version.version,
            "target_stage": req.target_stage, "promotion_request": req.pk,
            "executed_at": audit.format_timestamp(now),
            "policy": {"tier": req.policy.tier, "version": req.policy.version},
            "approvals": _approvals(req),
            "evidence": _evidence(req),
            "evidence_fingerprint": req.evidence_fingerprint,
            "audit": {"log": signing.ORIGIN, "event_position": audit_position,
                      "event_action": "approvals.promotion.executed"},
        },
    }


def attestation_write(*, request: PromotionRequest, now: dt.datetime) -> ReleaseAttestation:
    """Sign and store the attestation of an executed promotion (inside its transaction, after
    its `executed` audit event, whose position the statement names)."""
    position = (AuditEvent.objects.filter(
        action="approvals.promotion.executed", object_type="approvals.promotionrequest",
        object_id=str(request.pk)).order_by("-seq").values_list("seq", flat=True).first())
    statement = statement_for(request, audit_position=position, now=now)
    payload = audit.canonical_json(statement).encode()
    return ReleaseAttestation.objects.create(
        request=request, version=request.version, target_stage=request.target_stage,
        subject_sha256=request.version.artifact_sha256, envelope=signing.dsse_envelope(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(), audit_position=position,
        created_at=now,
    )


def attestations_for_version(version) -> QuerySet[ReleaseAttestation]:
    return ReleaseAttestation.objects.filter(version=version).order_by("-created_at", "-id")


def attestation_dict(att: ReleaseAttestation, *, checkpoints: dict[int, int | None] | None = None
                     ) -> dict[str, Any]:
    """The envelope, its decoded statement, and the audit checkpoint once sealed."""
    number = (checkpoints or proofs.checkpoint_numbers([att.audit_position])).get(
        att.audit_position)
    return {
        "id": att.pk, "promotion_request": att.request_id, "target_stage": att.target_stage,
        "subject_sha256": att.subject_sha256, "created_at": audit.format_timestamp(att.created_at),
        "envelope": att.envelope,
        "statement": _decode(att.envelope),
        "audit": {
            "event_position": att.audit_position,
            "checkpoint": number,
            "sealed": number is not None,
            "proof_url": f"/api/v1/audit/events/{att.audit_position}/proof/",
        },
    }


def _decode(envelope: dict) -> dict:
    return json.loads(base64.b64decode(envelope["payload"]))
