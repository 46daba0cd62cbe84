"""Exports of a version's documentation: an HTML pack, the same as PDF (WeasyPrint, offline: only
data: URIs may be fetched, never the network or local files) and a machine-readable model card.

The pack is a controlled copy: every PDF page carries the model and version, the artifact's
sha256, the revision of the document on that page, when it was generated and "page x of y". After
the documents come the evidence sections, one per entry of `PACK_SECTIONS` (ordered): oversight
adds the explainability evidence (SHAP, fairness, drift, outcomes) and the findings here; layers
above oversight (approvals: the decisions) append their own in their AppConfig.ready(), so the
pack shows their records without oversight importing them.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from explainability import selectors as explain_selectors
from explainability.choices import JobKind
from governance.fairness import threshold_text
from oversight import selectors
from oversight.models import Document


@dataclass(frozen=True)
class PackSection:
    """One evidence section of the pack: `build(version)` returns the template's context (`s`),
    or None to leave the section out."""

    order: int
    template: str
    build: Callable[[Any], dict[str, Any] | None]


#: The pack's evidence sections, in `order`; apps above oversight append theirs.
PACK_SECTIONS: list[PackSection] = []

_ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "code", "pre",
    "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a", "img", "sup",
    "sub", "del",
}


def markdown_to_html(text: str) -> str:
    """Markdown rendered and sanitised: no scripts, no event handlers, no styles."""
    # Here, not at import: every process imports this module, few render documents (a web process
    # holds Markdown anyway, through DRF; a worker would not).
    import markdown as md
    import nh3

    html = md.markdown(text or "", extensions=["tables", "fenced_code", "sane_lists"])
    return nh3.clean(html, tags=_ALLOWED_TAGS, url_schemes={"http", "https", "mailto", "data"})


def _document_context(document: Document) -> dict[str, Any]:
    texts = {s.key: s for s in document.sections.all()}
    attachments: dict[str, list] = {}
    for a in document.attachments.all():
        attachments.setdefault(a.section_key, []).append(a)
    required = set(selectors.document_required_sections(document))
    sections = []
    for spec in document.template.sections:
        current = texts.get(spec["key"])
        sections.append({
            "key": spec["key"], "title": spec["title"], "sources": spec.get("sources", []),
            "required": spec["key"] in required,
            "html": markdown_to_html(current.text) if current else "",
            "empty": not (current and current.text.strip()),
            "revision": current.revision_number if current else None,
            "attachments": attachments.get(spec["key"], []),
        })
    return {"document": document, "template": document.template, "sections": sections,
            "fields": document.fields}


def _revision_label(document: Document) -> str:
    return f"{document.template.title} revision {document.revision}"


def _sections_html(version, generated_at) -> list[str]:
    blocks = []
    for section in sorted(PACK_SECTIONS, key=lambda s: s.order):
        context = section.build(version)
        if context is not None:
            blocks.append(render_to_string(section.template, {
                "s": context, "version": version, "generated_at": generated_at,
            }))
    return blocks


def render_pack_html(
    version, documents: list[Document], *, generated_by: str = "", evidence: bool = True
) -> str:
    """One self-contained HTML page with the documents, then (`evidence`) the evidence sections
    (`PACK_SECTIONS`); the PDF's running header and footer make it a controlled copy."""
    current = selectors.risk_assessment_current(version.model)
    generated_at = timezone.now()
    return render_to_string("oversight/export/pack.html", {
        "version": version, "model": version.model, "risk": current,
        "documents": [_document_context(d) for d in documents],
        "revisions": "; ".join(_revision_label(d) for d in documents) or "no documents",
        "generated_at": generated_at, "generated_by": generated_by,
        "evidence_sections": _sections_html(version, generated_at) if evidence else [],
    })


# --- the evidence sections oversight adds ---------------------------------------------------


def _fairness_context(job) -> dict[str, Any]:
    result = job.result or {}
    attributes = []
    for name, block in (result.get("attributes") or {}).items():
        attributes.append(_attribute_rows(name, block))
    for name, block in (result.get("intersections") or {}).items():
        attributes.append({**_attribute_rows(name, block), "intersection": True})
    return {"job": job, "result": result, "passed": bool(result.get("passed")),
            "attributes": attributes, "outcomes": result.get("outcomes")}


def _attribute_rows(name: str, block: dict) -> dict[str, Any]:
    metrics = [
        {"metric": metric.replace("_", " "), "value": m.get("value"),
         "threshold": threshold_text(m.get("threshold")), "passed": m.get("passed")}
        for metric, m in (block.get("metrics") or {}).items()
    ]
    return {"name": name, "metrics": metrics, "groups": block.get("groups") or [],
            "passed": all(m["passed"] is not False for m in metrics), "intersection": False}


def evidence_pack_section(version) -> dict[str, Any]:
    """SHAP (top features), fairness (per attribute and group, against the thresholds), drift
    and the outcome analysis: the newest succeeded job of each on this version."""
    shap = explain_selectors.latest_job(version, JobKind.SHAP)
    fairness = [
        _fairness_context(job) for job in (
            explain_selectors.latest_fairness_job(version, decisions=False),
            explain_selectors.latest_fairness_job(version, decisions=True),
        ) if job is not None
    ]
    drift = explain_selectors.latest_job(version, JobKind.DRIFT)
    return {
        "shap": shap, "shap_features": ((shap.result or {}).get("feature_importance") or [])[:15]
        if shap else [],
        "fairness": fairness, "drift": drift, "metrics": version.metrics or {},
    }


def findings_pack_section(version) -> dict[str, Any]:
    """Every finding on the model as a whole or on this version, open and closed."""
    return {"findings": list(selectors.findings_for_version(version))}


def use_restrictions_pack_section(version) -> dict[str, Any]:
    """The model's use restrictions as they stand when the pack is made (withdrawn ones too,
    marked so), expired ones marked expired."""
    return {"rows": selectors.use_restrictions_for(version.model, include_withdrawn=True)}


def monitoring_pack_section(version) -> dict[str, Any]:
    """Post-market monitoring and incidents (EU AI Act Art. 72, 73): the model's plan with its
    thresholds and crossings, and every incident with its reporting clock, as they stand."""
    now = timezone.now()
    incidents = list(selectors.incidents_for_model(version.model))
    return {
        "plan": selectors.plan_for(version.model),
        "crossings": list(selectors.crossings_for(version.model)[:50]),
        "incidents": [{"i": i, "overdue": i.is_overdue(now)} for i in incidents],
    }


PACK_SECTIONS.append(PackSection(5, "oversight/export/_use_restrictions.html",
                                 use_restrictions_pack_section))
PACK_SECTIONS.append(PackSection(10, "oversight/export/_evidence.html", evidence_pack_section))
PACK_SECTIONS.append(PackSection(30, "oversight/export/_findings.html", findings_pack_section))
PACK_SECTIONS.append(PackSection(35, "oversight/export/_monitoring.html", monitoring_pack_section))


def render_pdf_document(html: str):
    """The laid-out pages (a WeasyPrint Document), offline: WeasyPrint may read data: URIs only
    (no http, https or file)."""
    import weasyprint
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"}, timeout=1)
    with tempfile.TemporaryDirectory() as base:
        return weasyprint.HTML(string=html, base_url=base, url_fetcher=fetcher).render()


def render_pdf(html: str) -> bytes:
    """PDF from HTML, offline (see render_pdf_document)."""
    return render_pdf_document(html).write_pdf()


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _monitoring_card(model) -> dict[str, Any] | None:
    plan = selectors.plan_for(model)
    if plan is None:
        return None
    return {"responsible": plan.responsible.username, "cadence_days": plan.cadence_days,
            "thresholds": [{"metric": t.metric, "direction": t.direction, "threshold": t.threshold,
                            "severity": t.severity} for t in plan.live_thresholds]}


def model_card(version, documents: list[Document]) -> dict[str, Any]:
    """A machine-readable model card (JSON) from the registry, the risk record and the documents."""
    model = version.model
    current = selectors.risk_assessment_current(model)
    fields: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    for d in documents:
        fields.update({k: v for k, v in (d.fields or {}).items() if v not in ("", None)})
        facts.update(d.facts or {})
    return {
        "schema": "gatehouse.model-card/1",
        "model": {"name": model.name, "title": model.title, "team": model.team.name,
                  "owner": getattr(model.owner, "username", None),
                  "intended_use": model.intended_use, "limitations": model.limitations,
                  "business_use_case": model.business_use_case},
        "version": {"version": version.version, "ref": version.ref, "stage": version.stage,
                    "kind": version.kind, "artifact_sha256": version.artifact_sha256,
                    "artifact_format": version.artifact_format, "framework": version.framework,
                    "framework_version": version.framework_version,
                    "code_commit": version.code_commit, "metrics": version.metrics,
                    "signature": version.signature, "created_at": _iso(version.created_at)},
        "lineage": facts.get("lineage", {}),
        "risk": None if current is None else {
            "tier": current.effective_tier, "computed_tier": current.computed_tier,
            "override_tier": current.override_tier,
            "override_justification": current.override_justification,
            "eu_ai_act_class": current.eu_ai_act_class, "score": current.score,
            "assessed_at": _iso(current.created_at), "expires_at": _iso(current.expires_at),
            "reasons": current.reasons,
        },
        "use_restrictions": [
            {"id": r.pk, "kind": r.kind, "text": r.text, "expires_on": _iso(r.expires_on),
             "expired": r.expired, "recorded_by": r.created_by.username,
             "recorded_at": _iso(r.created_at)}
            for r in selectors.use_restrictions_for(model)
        ],
        "post_market_monitoring": _monitoring_card(model),
        "incidents": [
            {"id": i.pk, "title": i.title, "serious": i.serious,
             "seriousness": i.seriousness.key if i.seriousness_id else None,
             "status": i.status, "occurred_at": _iso(i.occurred_at),
             "became_known_at": _iso(i.became_known_at), "deadline_at": _iso(i.deadline_at),
             "authority_reported_at": _iso(i.authority_reported_at),
             "closed_at": _iso(i.closed_at)}
            for i in selectors.incidents_for_model(model)
        ],
        "considerations": fields,
        "explanations": {"shap_top_features": facts.get("shap_top_features", [])},
        "fairness": facts.get("fairness", []),
        "documents": [
            {"template": d.template_slug, "template_version": d.template.version,
             "revision": d.revision, "signed_off": d.is_signed_off,
             "signed_off_by": getattr(d.signed_off_by, "username", None),
             "signed_off_at": _iso(d.signed_off_at),
             "sections": {s.key: s.text for s in d.sections.all()}}
            for d in documents
        ],
        "generated_at": _iso(timezone.now()),
    }
