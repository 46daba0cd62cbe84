"""Governance reads: policies, risk assessments, documentation completeness, findings, reviews,
the audit record. Registry rows are taken as arguments or looked up lazily by app label
(`apps.get_model`), never imported."""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Any

from django.apps import apps
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from common.errors import Conflict, NotFound
from governance import permissions as perms
from governance.choices import BLOCKING_SEVERITIES, UNRESOLVED_FINDING_STATUSES, EuAiActClass
from governance.doc_templates import VENDOR_VALIDATION_REPORT_SECTION
from governance.models import (
    AuditEvent,
    Document,
    DocumentAttachment,
    DocumentRevision,
    DocumentSection,
    DocumentTemplate,
    Finding,
    FindingResponse,
    RiskAssessment,
    TierPolicy,
)
from governance.services.documents import required_sections

STAGE_CHANGED = "registry.version.stage_changed"


class NoActivePolicy(Conflict):
    code = "no_policy"


# --- policies -----------------------------------------------------------------------------


def policy_for_tier(tier: int) -> TierPolicy:
    """The active policy version of a tier. Raises NoActivePolicy (409) if there is none."""
    policy = TierPolicy.objects.filter(tier=tier, is_active=True).first()
    if policy is None:
        raise NoActivePolicy(
            f"There is no active policy for risk tier {tier!r}; an administrator must publish one."
        )
    return policy


def policy_list(*, tier: int | None = None, active_only: bool = False) -> QuerySet[TierPolicy]:
    qs = TierPolicy.objects.select_related("created_by").order_by("tier", "-version")
    if tier is not None:
        qs = qs.filter(tier=tier)
    if active_only:
        qs = qs.filter(is_active=True)
    return qs


def policy_get(tier: int, version: int) -> TierPolicy:
    policy = TierPolicy.objects.filter(tier=tier, version=version).first()
    if policy is None:
        raise NotFound(f"No version {version} of the tier {tier} policy.")
    return policy


# --- risk ---------------------------------------------------------------------------------


def risk_assessment_list(model) -> QuerySet[RiskAssessment]:
    return (RiskAssessment.objects.filter(model=model)
            .select_related("assessed_by", "overridden_by", "model")
            .order_by("-created_at", "-id"))


def risk_assessment_current(model) -> RiskAssessment | None:
    """The newest assessment of the model (expired or not; check `expires_at`)."""
    return risk_assessment_list(model).first()


def risk_assessment_get(model, pk: int | str) -> RiskAssessment:
    found = risk_assessment_list(model).filter(pk=pk).first() if str(pk).isdigit() else None
    if found is None:
        raise NotFound(f"Model {model.name!r} has no risk assessment {pk}.")
    return found


# --- documents ----------------------------------------------------------------------------


def template_list() -> QuerySet[DocumentTemplate]:
    return DocumentTemplate.objects.filter(is_active=True).order_by("slug")


def _documents() -> QuerySet[Document]:
    return Document.objects.select_related(
        "template", "version__model__team", "version__model__owner", "signed_off_by", "created_by",
    ).prefetch_related(
        Prefetch("sections", queryset=DocumentSection.objects.select_related("updated_by")),
        "attachments",
    )


def documents_for_version(version) -> list[Document]:
    return list(_documents().filter(version=version).order_by("template_slug"))


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


def coverage_matrix(version) -> list[dict[str, Any]]:
    """Per regulatory source: which template sections answer it, and whether they are filled
    and signed off for this version (the portal's coverage matrix)."""
    docs = {d.template_slug: d for d in documents_for_version(version)}
    rows: dict[str, dict[str, Any]] = {}
    for template in template_list():
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


# --- findings -----------------------------------------------------------------------------


def open_blocking_findings(model, version=None) -> QuerySet[Finding]:
    """Unresolved (open, or remediated but not yet closed by a validator) high and critical
    findings on the model as a whole, or on `version` when given. They block promotion."""
    qs = Finding.objects.filter(
        model=model, status__in=UNRESOLVED_FINDING_STATUSES, severity__in=BLOCKING_SEVERITIES,
    ).select_related("owner", "version")
    if version is not None:
        qs = qs.filter(Q(version__isnull=True) | Q(version=version))
    return qs


def finding_list_for_user(user) -> QuerySet[Finding]:
    qs = Finding.objects.select_related(
        "model", "version__model", "owner", "opened_by", "document"
    ).order_by("-created_at", "-id")
    if not perms.can_read_everything(user):
        qs = qs.filter(model__team_id__in=user.team_ids)
    return qs


def finding_get_for_user(user, pk: int | str) -> Finding:
    found = finding_list_for_user(user).filter(pk=pk).first() if str(pk).isdigit() else None
    if found is None:
        raise NotFound(f"No finding {pk} that you can see.")
    return found


def finding_thread(finding: Finding) -> QuerySet[FindingResponse]:
    return finding.responses.select_related("author").order_by("created_at", "id")


# --- reviews ------------------------------------------------------------------------------


def overdue_reviews(user, today: dt.date | None = None) -> QuerySet:
    """Models (that the user may see) whose periodic review date has passed, oldest first."""
    RegisteredModel = apps.get_model("registry", "RegisteredModel")
    today = today or timezone.localdate()
    qs = (RegisteredModel.objects.filter(next_review_date__lt=today)
          .select_related("team", "owner").order_by("next_review_date", "name"))
    if not perms.can_read_everything(user):
        qs = qs.filter(team_id__in=user.team_ids)
    return qs


# --- gates --------------------------------------------------------------------------------


_NOT_GIVEN: Any = object()


def is_prohibited(model, assessment) -> bool:
    """A prohibited practice (EU AI Act Art. 5), by the model's class or its current assessment."""
    return model.eu_ai_act_class == EuAiActClass.PROHIBITED or (
        assessment is not None and assessment.eu_ai_act_class == EuAiActClass.PROHIBITED
    )


def governance_gate_items(
    *, model, version, target_stage: str, policy: TierPolicy, now=None, assessment=_NOT_GIVEN
) -> list[dict]:
    """The governance part of a promotion's readiness, item by item: not prohibited, a current
    unexpired risk assessment (judged at `now`), documentation complete, no unresolved
    high/critical finding. Each item: {"key", "met", "detail"}; only the evidence the policy asks
    for is listed (plus 'not_prohibited', which always applies). Approvals adds SHAP and
    fairness, and passes the `assessment` it already read."""
    now = now or timezone.now()
    stage = policy.stage_rules(target_stage) or {}
    evidence = set(stage.get("evidence") or [])
    items: list[dict[str, Any]] = []
    current = risk_assessment_current(model) if assessment is _NOT_GIVEN else assessment
    prohibited = is_prohibited(model, current)
    items.append({"key": "not_prohibited", "met": not prohibited,
                  "detail": "The model's use is a prohibited practice under EU AI Act Art. 5; it "
                            "cannot be promoted." if prohibited else
                            "No prohibited practice (EU AI Act Art. 5)."})
    if "risk_assessment" in evidence:
        if current is None:
            items.append({"key": "risk_assessment", "met": False,
                          "detail": "The model has no risk assessment."})
        elif current.expires_at <= now:
            items.append({"key": "risk_assessment", "met": False,
                          "detail": f"The risk assessment expired on {current.expires_at:%Y-%m-%d}."})
        else:
            items.append({"key": "risk_assessment", "met": True, "assessment_id": current.pk,
                          "detail": f"Assessed tier {current.effective_tier}"
                                    + (" (validator override)" if current.is_overridden else "")
                                    + f", valid until {current.expires_at:%Y-%m-%d}."})
    if "documentation" in evidence:
        comp = document_completeness(version, policy)
        if comp["complete"]:
            detail = "Documentation complete and signed off."
        else:
            parts = []
            if comp["missing"]:
                parts.append("missing: " + ", ".join(comp["missing"]))
            if comp["unsigned"]:
                parts.append("not signed off: " + ", ".join(comp["unsigned"]))
            detail = "Documentation incomplete (" + "; ".join(parts) + ")."
        items.append({"key": "documentation", "met": comp["complete"], "detail": detail,
                      "revision_ids": comp["revision_ids"]})
    if "no_open_high_findings" in evidence:
        blocking = list(open_blocking_findings(model, version))
        items.append({
            "key": "no_open_high_findings", "met": not blocking,
            "detail": "No unresolved high or critical finding." if not blocking else
            f"{len(blocking)} unresolved high/critical finding(s): "
            + "; ".join(f"#{f.pk} {f.title} ({f.severity}, {f.status})" for f in blocking),
            "finding_ids": [f.pk for f in blocking],
        })
    return items


# --- the audit record ---------------------------------------------------------------------


def audit_events_for_user(user) -> QuerySet[AuditEvent]:
    """Governance roles (validators, compliance, business approvers, auditors, admins) read the
    whole record. Everyone else reads the events about their teams' models and their own actions.
    """
    qs = AuditEvent.objects.order_by("seq")
    if perms.can_read_everything(user):
        return qs
    RegisteredModel = apps.get_model("registry", "RegisteredModel")
    names = RegisteredModel.objects.filter(team_id__in=user.team_ids).values("name")
    return qs.filter(Q(model_name__in=names) | Q(actor_id=user.pk))


def stage_history(model, *, at: dt.datetime | None = None) -> dict[str, Any]:
    """The stage changes of a model's versions, replayed from the audit record, and (with `at`)
    which versions were in each stage at that moment."""
    events = list(
        AuditEvent.objects.filter(model_name=model.name, action=STAGE_CHANGED)
        .order_by("seq")
        .values("seq", "timestamp", "object_id", "object_repr", "actor_name", "payload")
    )
    changes = []
    for e in events:
        payload = e["payload"] or {}
        changes.append({
            "seq": e["seq"], "timestamp": e["timestamp"], "version": _version_number(e["object_repr"]),
            "version_id": e["object_id"], "actor": e["actor_name"],
            "from": (payload.get("before") or {}).get("stage"),
            "to": (payload.get("after") or {}).get("stage"), "reason": payload.get("reason", ""),
        })
    out: dict[str, Any] = {"model": model.name, "changes": changes}
    if at is not None:
        state: dict[str, dict[str, Any]] = {}
        for c in changes:
            if c["timestamp"] <= at:
                state[c["version_id"]] = c
        by_stage: dict[str, list[dict[str, Any]]] = {}
        for c in state.values():
            if c["to"]:
                by_stage.setdefault(c["to"], []).append(
                    {"version": c["version"], "since": c["timestamp"], "seq": c["seq"]})
        out["at"] = at
        out["in_stage"] = {k: sorted(v, key=lambda x: x["version"] or 0) for k, v in by_stage.items()}
        out["in_production"] = out["in_stage"].get("production", [])
    return out


def _version_number(repr_: str) -> int | None:
    _, _, tail = (repr_ or "").rpartition("@")
    return int(tail) if tail.isdigit() else None
