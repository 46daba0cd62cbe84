"""Evidence gates: the dry run of a promotion (readiness) and the check at execution time.

Each gate answers met / not met with a sentence, and names the evidence it was judged on (job
ids, document revisions, findings, artifact sha256). The evidence fingerprint binds approvals
to exactly that evidence: if it changes before execution, the approvals are revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from approvals.choices import ExceptionStatus
from approvals.models import PolicyException
from explainability import selectors as evidence
from governance import selectors as gov
from governance.policy import exception_rules
from oversight import selectors as ov_selectors
from registry import selectors as registry_selectors
from registry.choices import EdgeKind, VersionKind


@dataclass(frozen=True)
class Evidence:
    """One kind of evidence a promotion can be judged on: its key (what a tier policy names),
    its label (what people read), and the function that judges it. `judge` is None for the
    items governance judges itself (`governance_gate_items`), which are recorded as it says."""

    key: str
    label: str
    judge: Callable[..., None] | None = None
    policy_may_require: bool = True
    #: Judged for every promotion whatever the policy names (a policy cannot waive it).
    always: bool = False
    #: A policy exception may waive it. Never the Art. 5 check, the risk assessment it is read
    #: from, nor an always-applied gate.
    waivable: bool = True


def _register(*items: Evidence) -> dict[str, Evidence]:
    return {item.key: item for item in items}


@dataclass
class GateReport:
    target_stage: str
    tier: int | None
    policy_id: int | None
    policy_version: int | None
    required_roles: list[str]
    items: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    policy: Any = None
    lineage: dict[str, list[str]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(item["met"] for item in self.items)

    @property
    def fingerprint(self) -> str:
        encoded = json.dumps(self.evidence, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(encoded.encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_stage": self.target_stage, "tier": self.tier, "policy_id": self.policy_id,
            "policy_version": self.policy_version, "required_roles": self.required_roles,
            "passed": self.passed, "items": self.items, "evidence": self.evidence,
            "missing": [i["label"] for i in self.items if not i["met"]],
        }

    def add(self, key: str, met: bool, detail: str, **extra: Any) -> None:
        self.items.append(
            {"key": key, "label": label(key), "met": bool(met), "detail": detail, **extra}
        )


def _job_gate(report: GateReport, version, kind: str) -> Any:
    if kind == "fairness":
        # A vendor version is judged on its recorded decisions; an in-house one on its artifact.
        job = evidence.latest_fairness_job(version, decisions=version.kind == VersionKind.VENDOR)
    else:
        job = evidence.latest_job(version, kind)
    report.evidence.setdefault("jobs", {})[kind] = job.pk if job else None
    if job is None:
        report.add(kind, False, f"No succeeded {kind.upper() if kind == 'shap' else kind} job on this version.")
        return None
    if version.kind != VersionKind.VENDOR and job.artifact_sha256 != version.artifact_sha256:
        report.add(kind, False, f"The latest {kind} job (#{job.pk}) ran on another artifact.", job_id=job.pk)
        return None
    return job


def evaluate(version, target_stage: str, *, now=None, policy=None) -> GateReport:
    """Judge `version` for `target_stage` under `policy` (a request's snapshot) or its tier's
    active policy (tier 1 if unassessed, the strictest, so a dry run never understates what
    will be asked)."""
    now = now or timezone.now()
    model = version.model
    assessment = ov_selectors.risk_assessment_current(model)
    tier = assessment.effective_tier if assessment else model.risk_tier
    policy = policy or gov.policy_for_tier(tier or 1)
    stage_rules = policy.stage_rules(target_stage) or {"required_roles": [], "evidence": []}
    report = GateReport(
        target_stage=target_stage, tier=tier, policy_id=policy.pk, policy_version=policy.version,
        required_roles=list(stage_rules.get("required_roles", [])), policy=policy,
    )
    report.evidence["artifact_sha256"] = version.artifact_sha256
    refs = registry_selectors.with_lineage_refs([version])[0].lineage_refs
    report.lineage = refs
    report.evidence["datasets"] = sorted(refs[EdgeKind.TRAINED_ON] + refs[EdgeKind.EVALUATED_ON])
    required = list(stage_rules.get("evidence", []))
    replaced: list[str] = []
    shap_dropped = False
    if version.kind == VersionKind.VENDOR:
        # What cannot be computed without an artifact is replaced by what the policy names.
        vendor_items = list(policy.rules.get("vendor_evidence", []))
        shap_dropped = "shap" in required
        replaced = vendor_items if shap_dropped else []
        required = [k for k in required if k != "shap"]
        required += [k for k in vendor_items if k not in required]
    # Risk assessment, documentation and findings are governance's to judge.
    for item in ov_selectors.governance_gate_items(
        model=model, version=version, target_stage=target_stage, policy=policy, now=now,
        assessment=assessment,
    ):
        key = item["key"]
        report.add(key, item["met"], item["detail"],
                   **{k: v for k, v in item.items() if k not in ("key", "met", "detail")})
        if key == "risk_assessment":
            report.evidence["risk_assessment"] = item.get("assessment_id")
        elif key == "documentation":
            report.evidence["document_revisions"] = sorted(item.get("revision_ids", []))
        elif key == "no_open_high_findings":
            report.evidence["open_findings"] = sorted(item.get("finding_ids", []))
    for kind in EVIDENCE.values():
        if kind.always and kind.judge is not None:
            kind.judge(report, version, replaces_shap=False)
    if shap_dropped:
        names = " and ".join(label(k).lower() for k in replaced)
        report.add("shap", bool(replaced),
                   f"Replaced by the policy's vendor evidence: {version.ref} is a vendor model "
                   f"without an artifact to explain, so it is judged on {names}." if replaced else
                   f"{version.ref} is a vendor model without an artifact to explain, and the "
                   "policy names no vendor evidence (vendor_evidence) to replace SHAP.",
                   replaced_by=replaced, label="Explainability (SHAP): replaced for a vendor model")
    for key in required:
        kind = EVIDENCE.get(key)
        if kind is None:
            report.add(key, False, f"The policy names evidence '{key}' that Gatehouse cannot judge.")
        elif kind.judge is not None:
            kind.judge(report, version, replaces_shap=bool(replaced))
    _apply_exceptions(report, version, now)
    return report


def _no_longer_applies(exc: PolicyException, policy) -> str | None:
    """Why an approved exception does not waive under `policy` (the one the gates are judged
    under), or None. It waives only under the tier it was approved under, and not once that
    tier's policy is stricter than the one that granted it where it matters to this exception:
    a lower exception_max_days than its own length (counted from the request, as when asked),
    or an approver role that did not approve it."""
    granted = exc.policy
    head = f"Exception #{exc.pk} no longer applies: "
    if policy is None:
        return None
    if granted.tier != policy.tier:
        return (head + f"it was approved under the tier {granted.tier} policy and the model is "
                f"now judged under tier {policy.tier}; ask for a new exception.")
    max_days, roles = exception_rules(policy.rules or {})
    granted_days, _ = exception_rules(granted.rules or {})
    if max_days < granted_days and exc.expires_at > exc.created_at + dt.timedelta(days=max_days):
        return (head + f"the tier {policy.tier} policy (v{policy.version}) now allows at most "
                f"{max_days} days (exception_max_days) and it runs until "
                f"{exc.expires_at:%Y-%m-%d}; ask for a new exception.")
    unapproved = [r for r in roles if r not in (exc.approver_roles or [])]
    if unapproved:
        return (head + f"the tier {policy.tier} policy (v{policy.version}) now needs approval by "
                f"{', '.join(unapproved)} (exception_approver_roles), who did not approve it; "
                "ask for a new exception.")
    return None


def _apply_exceptions(report: GateReport, version, now) -> None:
    """A gate not met is met while an approved policy exception waives it at `now` (approved
    and not yet past its expiry, whatever beat has recorded): "waived by exception #N until D",
    and only under the tier policy it was approved under (`_no_longer_applies`; the checklist
    says why not). The waivers in force are part of the evidence the approvals are bound to."""
    # Only waivable gates (never Art. 5 nor the risk assessment it rests on, never an open
    # serious incident), whatever exception rows exist.
    failing = {item["key"] for item in report.items if not item["met"]
               and item["key"] in EVIDENCE and EVIDENCE[item["key"]].waivable}
    if not failing:
        return
    waivers = {
        e.gate: e for e in PolicyException.objects.select_related("policy").filter(
            version=version, gate__in=failing, status=ExceptionStatus.APPROVED,
            expires_at__gt=now, approved_at__lte=now)
    }
    lapsed = {gate: why for gate, e in waivers.items()
              if (why := _no_longer_applies(e, report.policy))}
    for gate in lapsed:
        waivers.pop(gate)
    for item in report.items:
        if not item["met"] and item["key"] in lapsed:
            item.update(exception_lapsed=lapsed[item["key"]],
                        detail=f"{item['detail']} {lapsed[item['key']]}")
        exc = waivers.get(item["key"])
        if item["met"] or exc is None:
            continue
        item.update(met=True, waived_by=exc.pk, waived_until=exc.expires_at.isoformat(),
                    detail=f"Waived by exception #{exc.pk} until {exc.expires_at:%Y-%m-%d}: "
                           f"{item['detail']}")
    if waivers:
        report.evidence["exceptions"] = sorted(
            [e.pk, e.gate, e.expires_at.isoformat()] for e in waivers.values())


def _shap_gate(report: GateReport, version, *, replaces_shap: bool) -> None:
    """Met by a succeeded SHAP job on this exact artifact."""
    job = _job_gate(report, version, "shap")
    if job is not None:
        report.add("shap", True, f"SHAP job #{job.pk} on artifact {version.artifact_sha256[:12]}.",
                   job_id=job.pk)


def _fairness_gate(report: GateReport, version, *, replaces_shap: bool) -> None:
    """Met by the latest fairness job passing every thresholded metric (the tier's thresholds,
    possibly tightened by the job's parameters) over every sensitive attribute its dataset
    declares, the version's own training and evaluation datasets declare (its lineage: running
    the job on another dataset does not shed them) and the tier's policy names
    (`fairness_attributes`), and over every intersection the policy asks for
    (`fairness_intersections`). The engineer chooses the attributes when starting a job, so a
    job over fewer is refused, naming what it left out and who asks for it."""
    job = _job_gate(report, version, "fairness")
    if job is None:
        return
    result = job.result or {}
    lineage = registry_selectors.lineage_datasets([version.pk])[version.pk]
    datasets = [job.dataset, *lineage[EdgeKind.TRAINED_ON], *lineage[EdgeKind.EVALUATED_ON]]
    required = required_fairness_attributes(job, report.policy, datasets=datasets)
    # What the job computed, not what it was asked for: an attribute it could not measure
    # (e.g. too few rows per group) is absent from the result and so not covered.
    tested = sorted((result.get("attributes") or {}).keys())
    missing = [a for a in required if a not in tested]
    wanted = required_fairness_intersections(report.policy)
    computed = {frozenset(name.split(" & ")): name for name in (result.get("intersections") or {})}
    crossed = sorted(computed.values())
    lacking = [" & ".join(pair) for pair in wanted if frozenset(pair) not in computed]
    report.evidence["fairness_attributes"] = {"required": required, "tested": tested}
    coverage: dict[str, Any] = {"attributes_required": required, "attributes_tested": tested,
                                "attributes_missing": missing}
    if wanted:
        # Only when the policy asks, so the evidence of requests judged before is unchanged.
        report.evidence["fairness_intersections"] = {
            "required": [" & ".join(p) for p in wanted], "tested": crossed}
        coverage.update(intersections_required=[" & ".join(p) for p in wanted],
                        intersections_tested=crossed, intersections_missing=lacking)
    failed = _failed_fairness_metrics(result)
    tested_text = ", ".join(tested) or "no attribute"
    if missing:
        report.add("fairness", False,
                   f"Job #{job.pk} tested {tested_text} but not {', '.join(missing)}, which "
                   f"{_attribute_sources(datasets, report.policy, missing)}; run a fairness job over "
                   "every required attribute.", job_id=job.pk, **coverage)
    elif lacking:
        report.add("fairness", False,
                   f"Job #{job.pk} did not compute the intersection {', '.join(lacking)} that "
                   f"the tier {report.policy.tier} policy requires (fairness_intersections); run "
                   "a fairness job over all of its attributes together.", job_id=job.pk,
                   **coverage)
    elif result.get("passed") and not failed:
        over = tested_text + (f" and {', '.join(' & '.join(p) for p in wanted)}" if wanted else "")
        report.add("fairness", True,
                   f"Job #{job.pk}: every metric within thresholds for {over}.",
                   job_id=job.pk, **coverage)
    else:
        report.add("fairness", False,
                   f"Job #{job.pk}: outside thresholds: {', '.join(failed) or 'see result'}.",
                   job_id=job.pk, **coverage)


def required_fairness_attributes(job, policy, *, datasets=None) -> list[str]:
    """The sensitive attributes a fairness result must cover: those the job's dataset declares
    (or, given, those `datasets` declare: the job's, then the version's lineage), then those
    the tier's policy names, then those of the intersections it asks for, in that order,
    without repeats."""
    declared = [a for ds in (datasets or [job.dataset])
                for a in (ds.dataset.sensitive_attributes or [])]
    named = list((policy.rules or {}).get("fairness_attributes", [])) if policy else []
    crossed = [a for pair in required_fairness_intersections(policy) for a in pair]
    return list(dict.fromkeys(declared + named + crossed))


def required_fairness_intersections(policy) -> list[list[str]]:
    """The attribute pairs the tier's policy asks a fairness result to cover together."""
    return [list(p) for p in ((policy.rules or {}).get("fairness_intersections") or [])] if policy else []


def _attribute_sources(datasets, policy, missing: list[str]) -> str:
    """Who asks for the missing attributes: the first dataset declaring each (the job's, then
    the lineage's), else the policy; "(attributes)" after each when there are several."""
    by_source: dict[str, list[str]] = {}
    for attr in missing:
        ds = next((d for d in datasets if attr in (d.dataset.sensitive_attributes or [])), None)
        source = (f"dataset {ds.ref} declares sensitive" if ds is not None else
                  f"the tier {policy.tier} policy requires" if policy else "the policy requires")
        by_source.setdefault(source, []).append(attr)
    if len(by_source) == 1:
        return next(iter(by_source))
    return " and ".join(f"{source} ({', '.join(attrs)})" for source, attrs in by_source.items())


def _drift_gate(report: GateReport, version, *, replaces_shap: bool) -> None:
    """Met when the latest drift job on this version did not alert (verdict other than drift)."""
    job = evidence.latest_job(version, "drift")
    report.evidence.setdefault("jobs", {})["drift"] = job.pk if job else None
    verdict = (job.result or {}).get("verdict") if job else None
    report.add("drift", job is not None and verdict != "drift",
               f"Latest drift verdict: {verdict}." if job else "No drift job has run.",
               **({"job_id": job.pk} if job else {}))


def _replacing(replaces_shap: bool) -> str:
    return "In place of SHAP (no artifact to explain): " if replaces_shap else ""


def _vendor_report_gate(report: GateReport, version, *, replaces_shap: bool) -> None:
    """Met when a file is attached to the vendor validation report section of the version's
    documentation; the attachments are part of the evidence the approvals are bound to."""
    reports = ov_selectors.vendor_validation_reports(version)
    report.evidence["vendor_validation_report"] = sorted(r["sha256"] for r in reports)
    prefix = _replacing(replaces_shap)
    if not reports:
        report.add("vendor_validation_report", False, prefix + "no vendor validation report is "
                   "attached; attach it to the 'Vendor validation report' section of the SR 11-7 "
                   "documentation.")
        return
    newest = reports[0]
    report.add(
        "vendor_validation_report", True,
        prefix + f"{newest['name']} (sha256 {newest['sha256'][:12]}) attached to the "
        f"{newest['template']} documentation" + (f", with {len(reports) - 1} more." if len(reports) > 1 else "."),
        attachment_ids=[r["attachment_id"] for r in reports],
    )


def _outcome_gate(report: GateReport, version, *, replaces_shap: bool) -> None:
    """Met when a fairness job on recorded decisions succeeded with its outcome analysis
    (accuracy, AUC where a score exists, calibration by decile, per group)."""
    job = evidence.latest_fairness_job(version, decisions=True)
    report.evidence.setdefault("jobs", {})["outcome_analysis"] = job.pk if job else None
    prefix = _replacing(replaces_shap)
    overall = ((job.result or {}).get("outcomes") or {}).get("overall") if job else None
    if job is None or not overall:
        report.add("outcome_analysis", False, prefix + "no fairness job on recorded decisions "
                   "(params.mode \"decisions\") with an outcome analysis has succeeded on this version.")
        return
    population = (job.result or {}).get("population") or {}
    auc = overall.get("auc")
    figures = f"accuracy {overall['accuracy']:.3f}" + (f", AUC {auc:.3f}" if auc is not None else ", no score so no AUC")
    report.add(
        "outcome_analysis", True,
        prefix + f"job #{job.pk} on the recorded decisions in {job.dataset.ref}: {figures} over "
        f"{population.get('rows_after', overall.get('count'))} of {population.get('rows_before', '?')} rows.",
        job_id=job.pk,
    )


def _incident_gate(report: GateReport, version, *, replaces_shap: bool) -> None:
    """Met unless the model has an open serious incident (EU AI Act Art. 73): none of its
    versions moves while one is reported, investigated or awaiting closure. Not part of the
    evidence fingerprint: closing the incident lets held approvals execute, it does not revoke
    them."""
    incidents = list(ov_selectors.open_serious(version.model))
    if not incidents:
        report.add("no_open_serious_incident", True, "No open serious incident on the model.")
        return
    report.add(
        "no_open_serious_incident", False,
        f"{len(incidents)} open serious incident(s) on {version.model.name}: "
        + "; ".join(f"#{i.pk} {i.title} ({i.seriousness.label.lower() if i.seriousness_id else 'serious'}, {i.status.replace('_', ' ')})"
                    for i in incidents)
        + ". Close the incident before promoting any version of the model.",
        incident_ids=[i.pk for i in incidents],
    )


def _evaluation_dataset_gate(report: GateReport, version, *, replaces_shap: bool) -> None:
    """Met when the version names the dataset it was evaluated on (an `evaluated_on` lineage
    edge): performance figures mean nothing without the data they were measured on."""
    evaluated = sorted(report.lineage.get(EdgeKind.EVALUATED_ON) or [])
    report.evidence["evaluation_datasets"] = evaluated
    if evaluated:
        report.add("evaluation_dataset", True, f"Evaluated on {', '.join(evaluated)}.",
                   datasets=evaluated)
    else:
        report.add("evaluation_dataset", False,
                   f"{version.ref} names no evaluation dataset; register the version with "
                   "evaluation_datasets (an evaluated_on lineage edge to a dataset version).")


def _numeric_metrics(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, dict):
        return {}
    return {k: v for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _performance_gate(report: GateReport, version, *, replaces_shap: bool) -> None:
    """Met by performance figures: the version's recorded metrics (at least one number), or an
    outcome analysis (accuracy, AUC, calibration) from a succeeded fairness job on it."""
    metrics = _numeric_metrics(version.metrics)
    job = evidence.latest_fairness_job(version, decisions=version.kind == VersionKind.VENDOR)
    overall = ((job.result or {}).get("outcomes") or {}).get("overall") if job else None
    report.evidence["performance"] = {"metrics": dict(sorted(metrics.items())),
                                      "outcome_job": job.pk if overall else None}
    parts = []
    if metrics:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items())[:4])
        parts.append(f"metrics {shown}" + (f" and {len(metrics) - 4} more" if len(metrics) > 4 else ""))
    if overall:
        parts.append(f"outcome analysis in job #{job.pk} (accuracy {overall.get('accuracy', 0):.3f})")
    if parts:
        report.add("performance_metrics", True, "Performance evidence: " + "; ".join(parts) + ".",
                   **({"job_id": job.pk} if overall else {}))
    else:
        report.add("performance_metrics", False,
                   f"{version.ref} has no performance evidence: record its metrics (e.g. "
                   "{\"auc\": 0.81}) when registering it, or run a fairness job whose outcome "
                   "analysis gives accuracy and AUC.")


def _code_commit_gate(report: GateReport, version, *, replaces_shap: bool) -> None:
    """Met when the version names the code commit that trained it (a vendor version: the
    vendor's product version, as it has no code of ours)."""
    if version.kind == VersionKind.VENDOR:
        vendor = version.vendor if isinstance(version.vendor, dict) else {}
        named = str(vendor.get("version") or "").strip()
        report.evidence["code_commit"] = named or None
        report.add("code_commit", bool(named),
                   f"Vendor model: {vendor.get('name', 'the vendor')} version {named}." if named else
                   f"{version.ref} is a vendor model and names no vendor version (vendor.version) "
                   "in place of a code commit.")
        return
    commit = (version.code_commit or "").strip()
    report.evidence["code_commit"] = commit or None
    if commit:
        where = f" in {version.code_repository}" if version.code_repository else ""
        report.add("code_commit", True, f"Trained by commit {commit[:12]}{where}.")
    else:
        report.add("code_commit", False,
                   f"{version.ref} names no code commit; register the version with code_commit "
                   "(and code_repository) so the training code can be found.")


def _failed_fairness_metrics(result: dict) -> list[str]:
    failed = []
    for section in ("attributes", "intersections"):
        for attr, body in (result.get(section) or {}).items():
            for name, metric in (body.get("metrics") or {}).items():
                if isinstance(metric, dict) and metric.get("passed") is False:
                    failed.append(f"{name} for {attr}")
    return failed


#: The one evidence registry: every key a tier policy may require, its label and its judge.
#: governance's policy validation accepts exactly these keys (declared at start-up).
EVIDENCE: dict[str, Evidence] = _register(
    Evidence("not_prohibited", "Not a prohibited practice (EU AI Act Art. 5)",
             policy_may_require=False, waivable=False),
    # The Art. 5 (not_prohibited) verdict is read from it: waiving it would waive that too.
    Evidence("risk_assessment", "Current risk assessment (not prohibited, not expired)",
             waivable=False),
    Evidence("shap", "Explainability (SHAP) job succeeded on this exact artifact", _shap_gate),
    Evidence("fairness", "Fairness job within the tier's thresholds", _fairness_gate),
    Evidence("documentation", "Documentation complete and signed off"),
    Evidence("no_open_high_findings", "No open high or critical findings"),
    Evidence("vendor_validation_report", "Vendor validation report attached", _vendor_report_gate),
    Evidence("outcome_analysis", "Outcome analysis on recorded decisions", _outcome_gate),
    Evidence("drift", "Drift check without alert", _drift_gate),
    Evidence("no_open_serious_incident", "No open serious incident (EU AI Act Art. 73)",
             _incident_gate, policy_may_require=False, always=True, waivable=False),
    Evidence("evaluation_dataset", "Evaluation dataset named (evaluated_on lineage)",
             _evaluation_dataset_gate),
    Evidence("performance_metrics", "Performance metrics or outcome analysis", _performance_gate),
    Evidence("code_commit", "Code commit recorded", _code_commit_gate),
)


def label(key: str) -> str:
    kind = EVIDENCE.get(key)
    return kind.label if kind else key


def policy_evidence_labels() -> dict[str, str]:
    """What tier policies may require: key -> label (passed down to governance)."""
    return {k: e.label for k, e in EVIDENCE.items() if e.policy_may_require}
