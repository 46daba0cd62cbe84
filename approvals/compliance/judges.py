"""The judges of the crosswalk's evidence sources: one function per kind, on evidence already
read (`evidence.load`), no queries. Each answers met or not with a sentence, the links to the
evidence (portal pages) with its hash, and, when not met, what to do in words a user acts on.

`SOURCES` is the vocabulary the crosswalk may name (declared to governance at start-up);
`judge(ev, source)` dispatches on the source's kind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.urls import reverse

from approvals.choices import DecisionKind, State
from approvals.compliance.evidence import VersionEvidence
from explainability.choices import JobKind
from governance import audit
from registry.choices import EdgeKind, VersionKind

Result = dict[str, Any]


def sha256_json(value: Any) -> str:
    """sha256 of the value's canonical JSON (the audit log's encoding: anyone can recompute it)."""
    return hashlib.sha256(audit.canonical_json(value).encode()).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()


def _link(label: str, url: str, hash_: str | None = None) -> dict[str, Any]:
    return {"label": label, "url": url, "sha256": hash_}


def _met(detail: str, *links: dict) -> Result:
    return {"met": True, "detail": detail, "links": list(links), "todo": ""}


def _missing(detail: str, todo: str, *links: dict) -> Result:
    return {"met": False, "detail": detail, "links": list(links), "todo": todo}


def _version_url(ev: VersionEvidence) -> str:
    return reverse("registry:version-detail", args=[ev.model.name, ev.version.version])


def _model_url(ev: VersionEvidence) -> str:
    return reverse("registry:model-detail", args=[ev.model.name])


# --- field:<path> ------------------------------------------------------------------------------

_MODEL_TEXT = {
    "intended_use": "intended use", "limitations": "limitations",
    "business_use_case": "business use case",
}
_VERSION_FACTS = {
    "metrics": "evaluation metrics", "hyperparameters": "hyperparameters",
    "environment": "environment (packages, runtime)", "signature": "input/output signature",
    "framework": "framework", "code_commit": "code commit",
}
_LINEAGE = {"training_data": EdgeKind.TRAINED_ON, "evaluation_data": EdgeKind.EVALUATED_ON}
FIELDS = frozenset(
    ["model.owner"] + [f"model.{k}" for k in _MODEL_TEXT] + [f"version.{k}" for k in _VERSION_FACTS]
    + [f"lineage.{k}" for k in _LINEAGE]
)


def _field(ev: VersionEvidence, path: str) -> Result:
    scope, name = path.split(".", 1)
    model, version = ev.model, ev.version
    if path == "model.owner":
        if model.owner_id:
            return _met(f"Owned by {model.owner.username}.", _link("Model page", _model_url(ev)))
        return _missing("The model has no owner.",
                        "Name the model's owner (an accountable person) on the model page.",
                        _link("Model page", _model_url(ev)))
    if scope == "model":
        text = (getattr(model, name) or "").strip()
        what = _MODEL_TEXT[name]
        if text:
            return _met(f"The model's {what} is recorded.",
                        _link(f"Model {what}", _model_url(ev), sha256_text(text)))
        return _missing(f"The model's {what} is empty.",
                        f"Write the model's {what} on the model page (Edit model).",
                        _link("Model page", _model_url(ev)))
    if scope == "version":
        value = getattr(version, name)
        what = _VERSION_FACTS[name]
        if value not in ("", None, {}, []):
            return _met(f"Registered with its {what}.",
                        _link(f"{version.ref} {what}", _version_url(ev), sha256_json(value)))
        return _missing(
            f"{version.ref} was registered without its {what}.",
            f"A version's facts are fixed at registration: register a new version with its "
            f"{what} ({name!r} in the registry API).", _link("Version page", _version_url(ev)))
    kind = _LINEAGE[name]
    datasets = ev.datasets.get(kind, [])
    what = "training" if kind == EdgeKind.TRAINED_ON else "evaluation"
    if datasets:
        return _met(f"{what.capitalize()} data: {', '.join(d.ref for d in datasets)}.", *[
            _link(d.ref, reverse("registry:dataset-detail", args=[d.dataset.name]), d.sha256 or None)
            for d in datasets
        ])
    param = "training_datasets" if kind == EdgeKind.TRAINED_ON else "evaluation_datasets"
    return _missing(f"The lineage names no {what} data for {version.ref}.",
                    f"Register the version with the dataset versions it was "
                    f"{'trained' if kind == EdgeKind.TRAINED_ON else 'evaluated'} on ({param!r}), "
                    "so its lineage names them.",
                    _link("Version page", _version_url(ev)))


# --- section:<template>/<key> and signoff:<template> -------------------------------------------


def _document_url(doc, key: str = "") -> str:
    url = reverse("oversight:document-detail", args=[doc.pk])
    return url + (f"#section-{key}" if key else "")


def _start_todo(ev: VersionEvidence, slug: str) -> str:
    return (f"Start the {slug} documentation of {ev.version.ref} (Documentation on the version "
            "page) and write it.")


def _section(ev: VersionEvidence, ref: str) -> Result:
    slug, key = ref.split("/", 1)
    doc = ev.documents.get(slug)
    if doc is None:
        return _missing(f"{ev.version.ref} has no {slug} documentation.", _start_todo(ev, slug),
                        _link("Version page", _version_url(ev) + "#documentation"))
    section = next((s for s in doc.sections.all() if s.key == key), None)
    spec = doc.template.section(key) or {"title": key}
    if section is None or not section.text.strip():
        return _missing(f"Section '{spec['title']}' of the {slug} documentation is empty.",
                        f"Write the section '{spec['title']}' of the {slug} documentation.",
                        _link(f"{slug}: {spec['title']}", _document_url(doc, key)))
    return _met(f"'{spec['title']}' written (revision {section.revision_number}).",
                _link(f"{slug} revision {section.revision_number}: {spec['title']}",
                      _document_url(doc, key), sha256_text(section.text)))


def document_hash(doc) -> str:
    """sha256 over the canonical JSON of the document's sections ({key: text}) as they stand."""
    return sha256_json({s.key: s.text for s in doc.sections.all()})


def _signoff(ev: VersionEvidence, slug: str) -> Result:
    doc = ev.documents.get(slug)
    if doc is None:
        return _missing(f"{ev.version.ref} has no {slug} documentation.", _start_todo(ev, slug),
                        _link("Version page", _version_url(ev) + "#documentation"))
    if not doc.is_signed_off:
        # An edit after a sign-off clears it, so an unsigned document may have been signed once.
        return _missing(f"The {slug} documentation stands at revision {doc.revision}; it is not "
                        "signed off at that revision.",
                        f"The model owner signs off the {slug} documentation (Sign off on the "
                        "document page) once it is complete.",
                        _link(f"{slug} documentation", _document_url(doc)))
    return _met(f"Signed off by {doc.signed_off_by.username} on {doc.signed_off_at:%Y-%m-%d} at "
                f"revision {doc.revision}.",
                _link(f"{slug} revision {doc.revision} (signed off)", _document_url(doc),
                      document_hash(doc)))


# --- job:<kind> --------------------------------------------------------------------------------


def _job_url(job) -> str:
    return reverse("explainability:job-detail", args=[job.pk])


def _job(ev: VersionEvidence, kind: str) -> Result:
    version = ev.version
    jobs = [j for j in ev.jobs if j.kind == kind]
    start = (f"Start a {kind} job on {version.ref} (Start a job on the version page)"
             + (" on current data against the training data" if kind == JobKind.DRIFT else "") + ".")
    if not jobs:
        return _missing(f"No succeeded {kind} job on {version.ref}.", start,
                        _link("Version page", _version_url(ev)))
    job = jobs[0]  # newest first
    result = job.result or {}
    link = _link(f"{kind} job #{job.pk} result", _job_url(job), sha256_json(job.result))
    if version.kind != VersionKind.VENDOR and job.artifact_sha256 != version.artifact_sha256:
        return _missing(f"The latest {kind} job (#{job.pk}) ran on another artifact.", start, link)
    on = f"on {job.dataset.ref}, {job.finished_at:%Y-%m-%d}"
    if kind == JobKind.FAIRNESS and result.get("passed") is False:
        return _missing(f"Fairness job #{job.pk} ({on}) found metrics outside the thresholds.",
                        "Remediate the disparity (or record a finding and its acceptance), then run "
                        "a new fairness job.", link)
    if kind == JobKind.DRIFT and result.get("verdict") == "drift":
        return _missing(f"Drift job #{job.pk} ({on}) detected drift.",
                        "Investigate the drift (retrain, or record a finding), then run a new drift "
                        "job on current data.", link)
    extra = f", verdict {result['verdict']}" if kind == JobKind.DRIFT and result.get("verdict") else ""
    return _met(f"{kind.upper() if kind == 'shap' else kind.capitalize()} job #{job.pk} {on}{extra}.", link)


# --- approval:<what> ---------------------------------------------------------------------------


def _request_url(req) -> str:
    return reverse("approvals:request-detail", args=[req.pk])


def _approval(ev: VersionEvidence, what: str) -> Result:
    version = ev.version
    if what == "validator":
        for req in ev.promotions:
            if req.state not in (State.APPROVED, State.EXECUTED):
                continue
            for d in req.decisions.all():
                if d.role == "validator" and d.decision == DecisionKind.APPROVE:
                    return _met(
                        f"Approved by validator {d.approver.username} on {d.created_at:%Y-%m-%d} "
                        f"(request #{req.pk} to {req.target_stage}).",
                        _link(f"Promotion request #{req.pk}: validator's decision",
                              _request_url(req), d.evidence_fingerprint))
        return _missing(f"No independent validator has approved a promotion of {version.ref}.",
                        "Request a promotion of this version; an independent validator reviews "
                        "and approves it.", _link("Version page", _version_url(ev) + "#readiness"))
    done = [r for r in ev.promotions if r.target_stage == what and r.state == State.EXECUTED]
    if done:
        req = done[0]
        return _met(f"Promoted to {what} by request #{req.pk} on {req.executed_at:%Y-%m-%d}.",
                    _link(f"Promotion request #{req.pk} (executed)", _request_url(req),
                          req.evidence_fingerprint))
    return _missing(f"{version.ref} has not been promoted to {what} through an approved request.",
                    f"Request a promotion to {what} (Readiness on the version page); it executes "
                    "once every required role approves and every gate passes.",
                    _link("Version page", _version_url(ev) + "#readiness"))


# --- review, risk, audit -----------------------------------------------------------------------


def _review(ev: VersionEvidence, what: str) -> Result:
    model = ev.model
    due = model.next_review_date
    link = _link("Model page", _model_url(ev))
    if due is None:
        return _missing(f"{model.name} has no periodic review scheduled.",
                        "A periodic review is scheduled when a version is promoted to production "
                        "(the tier policy's approval validity); promote one through a request.", link)
    if due < ev.now.date():
        return _missing(f"The periodic review of {model.name} was due on {due:%Y-%m-%d} and is "
                        "overdue.", "Re-validate the model and promote the reviewed version: the "
                        "approval schedules the next review.", link)
    return _met(f"Next periodic review due on {due:%Y-%m-%d} (not overdue).", link)


def _risk(ev: VersionEvidence, what: str) -> Result:
    ra, model = ev.assessment, ev.model
    url = reverse("oversight:risk", args=[model.name])
    if ra is None:
        return _missing(f"{model.name} has no risk assessment.",
                        "Complete the risk assessment questionnaire (Risk on the model page).",
                        _link("Risk assessment", url))
    link = _link(f"Risk assessment #{ra.pk}", url, sha256_json(ra.answers))
    if ra.expires_at <= ev.now:
        return _missing(f"The risk assessment #{ra.pk} expired on {ra.expires_at:%Y-%m-%d}.",
                        "Re-assess the model's risk (Risk on the model page).", link)
    return _met(f"Tier {ra.effective_tier}, EU AI Act class {ra.eu_ai_act_class}, assessed on "
                f"{ra.created_at:%Y-%m-%d}, valid until {ra.expires_at:%Y-%m-%d}.", link)


def _audit(ev: VersionEvidence, what: str) -> Result:
    url = reverse("governance:audit-log") + f"?model_name={ev.model.name}"
    position, cp = ev.audit_position, ev.checkpoint
    if position is None:
        return _missing(f"No audit event records {ev.version.ref}.",
                        "Report this to the administrator: every version's registration is "
                        "audited, so the audit log is incomplete.", _link("Audit log", url))
    if cp is None or cp.tree_size < position:
        return _missing(f"The version's latest audit event (position {position}) is not sealed "
                        "into a signed checkpoint yet.",
                        "Wait for the audit sealer (it runs every few seconds) and look again; "
                        "if it stays unsealed, ask the administrator to check the beat worker.",
                        _link("Audit log", url))
    if not ev.checkpoint_valid:
        return _missing(f"Checkpoint {cp.number}'s signature does not verify with the log's key.",
                        "Run the full audit verification (Audit log → Verify) and report the "
                        "result to the administrator.", _link("Audit log", url))
    return _met(f"Its events up to position {position} are sealed in checkpoint {cp.number} "
                f"(tree size {cp.tree_size}), whose signature verifies.",
                _link(f"Audit checkpoint {cp.number} (root hash)", url, cp.root_hash))


# --- register:<name> ---------------------------------------------------------------------------


def _findings(ev: VersionEvidence) -> Result:
    url = reverse("oversight:finding-list") + "?open_high=1"
    blocking = ev.blocking_findings
    if blocking:
        return _missing(
            f"{len(blocking)} unresolved high/critical finding(s): "
            + "; ".join(f"#{f.pk} {f.title} ({f.severity}, {f.status})" for f in blocking) + ".",
            "Remediate the findings and have a validator close them (or accept the risk with a "
            "written justification).",
            *[_link(f"Finding #{f.pk}", reverse("oversight:finding-detail", args=[f.pk]))
              for f in blocking])
    return _met(f"No unresolved high or critical finding on {ev.model.name}.",
                _link("Findings register", url))


def _monitoring_plan(ev: VersionEvidence) -> Result:
    state, model = ev.registers["monitoring_plan"], ev.model
    url = reverse("oversight:monitoring-plan", args=[model.name])
    todo = ("Record the model's post-market monitoring plan: the metrics watched with their "
            "thresholds, the review cadence and the responsible person (Set up a monitoring "
            "plan on the model page).")
    if not state["exists"]:
        return _missing(f"{model.name} has no post-market monitoring plan.", todo,
                        _link("Monitoring plan", url))
    if not state["thresholds"]:
        return _missing(f"{model.name}'s monitoring plan watches no metric.",
                        "Add at least one threshold on a drift or outcome metric to the "
                        "monitoring plan.", _link(f"Monitoring plan #{state['plan_id']}", url))
    crossings = (f"; {state['open_crossings']} threshold(s) currently crossed (each opened a "
                 "finding)" if state["open_crossings"] else "")
    return _met(f"Monitoring plan #{state['plan_id']}: {state['thresholds']} threshold(s), "
                f"reviewed every {state['cadence_days']} day(s) by {state['responsible']}"
                f"{crossings}.", _link(f"Monitoring plan #{state['plan_id']}", url))


def _incidents(ev: VersionEvidence) -> Result:
    state, model = ev.registers["incidents"], ev.model
    list_url = reverse("oversight:incident-list") + f"?model={model.name}"
    if state["overdue"]:
        return _missing(
            f"{len(state['overdue'])} serious incident(s) past the statutory reporting deadline "
            f"and not reported: {', '.join(f'#{pk}' for pk in state['overdue'])}.",
            "Report the overdue serious incident(s) to the market surveillance authority now and "
            "record the report on the incident.",
            *[_link(f"Incident #{pk}", reverse("oversight:incident-detail", args=[pk]))
              for pk in state["overdue"]])
    open_serious = (f"; {len(state['open_serious'])} serious incident(s) open, within their "
                    "reporting deadline" if state["open_serious"] else "")
    return _met(f"The incident register is kept: {state['total']} incident(s) recorded for "
                f"{model.name}, none overdue for reporting{open_serious}.",
                _link("Incidents register", list_url))


def _use_restrictions(ev: VersionEvidence) -> Result:
    state, model = ev.registers["use_restrictions"], ev.model
    url = _model_url(ev) + "#ur-h"
    if not state["met"]:
        expired = (f" ({len(state['expired'])} expired)" if state["expired"] else "")
        return _missing(f"No use restriction in force for {model.name}{expired}.",
                        "Record the model's allowed and prohibited uses, populations and "
                        "geographies (Use restrictions on the model page).",
                        _link("Use restrictions", url))
    kinds = sorted({r["kind"] for r in state["in_force"]})
    return _met(f"{len(state['in_force'])} use restriction(s) in force ({', '.join(kinds)}).",
                _link("Use restrictions", url,
                      sha256_json([{k: r[k] for k in ("kind", "text", "expires_on")}
                                   for r in state["in_force"]])))


def _exceptions(ev: VersionEvidence) -> Result:
    state = ev.registers["exceptions"]
    url = reverse("approvals:exception-register")
    if not state["met"]:
        return _missing(
            f"{state['detail']}: the gate(s) they waived are closed again.",
            "Nothing waives those gates any more: meet the gate's evidence, or request a new "
            "exception with compensating controls.",
            _link("Expired exceptions", url + f"?state=expired&model={ev.model.name}"))
    links = [_link(f"Exception #{r['id']} ({r['gate']}, {r['state']} until {r['expires_at'][:10]})",
                   reverse("approvals:exception-detail", args=[r["id"]]))
             for r in state["active"]] or [_link("Exceptions register", url)]
    return _met(f"{state['detail']}.", *links)


#: Register judges: name -> fn(ev).
REGISTERS: dict[str, Callable[[VersionEvidence], Result]] = {
    "findings": _findings, "monitoring_plan": _monitoring_plan, "incidents": _incidents,
    "use_restrictions": _use_restrictions, "exceptions": _exceptions,
}
REGISTER_NAMES = frozenset(REGISTERS)


def _register(ev: VersionEvidence, name: str) -> Result:
    return REGISTERS[name](ev)


_KINDS: dict[str, Callable[[VersionEvidence, str], Result]] = {
    "field": _field, "section": _section, "signoff": _signoff, "job": _job,
    "approval": _approval, "review": _review, "risk": _risk, "audit": _audit,
    "register": _register,
}

#: The vocabulary the crosswalk may name (section/signoff are the templates', governance's).
SOURCES: dict[str, frozenset[str]] = {
    "field": FIELDS,
    "job": frozenset(JobKind.values),
    "approval": frozenset({"staging", "production", "validator"}),
    "review": frozenset({"periodic"}),
    "risk": frozenset({"assessment"}),
    "audit": frozenset({"log"}),
    "register": REGISTER_NAMES,
}


def judge(ev: VersionEvidence, source: str) -> Result:
    kind, value = source.split(":", 1)
    return {"source": source, **_KINDS[kind](ev, value)}
