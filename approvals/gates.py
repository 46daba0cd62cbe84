"""Evidence gates: the dry run of a promotion (readiness) and the check at execution time.

Each gate answers met / not met with a sentence, and names the evidence it was judged on (job
ids, document revisions, findings, artifact sha256). The evidence fingerprint binds approvals
to exactly that evidence: if it changes before execution, the approvals are revoked.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from explainability import selectors as evidence
from governance import selectors as gov
from registry.choices import EdgeKind, VersionKind

GATE_LABELS = {
    "not_prohibited": "Not a prohibited practice (EU AI Act Art. 5)",
    "risk_assessment": "Current risk assessment (not prohibited, not expired)",
    "shap": "Explainability (SHAP) job succeeded on this exact artifact",
    "fairness": "Fairness job within the tier's thresholds",
    "documentation": "Documentation complete and signed off",
    "no_open_high_findings": "No open high or critical findings",
    "vendor_validation_report": "Vendor validation report attached",
    "outcome_analysis": "Outcome analysis on recorded decisions",
    "drift": "Drift check without alert",
}


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
            {"key": key, "label": GATE_LABELS.get(key, key), "met": bool(met), "detail": detail, **extra}
        )


def _job_gate(report: GateReport, version, kind: str) -> Any:
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
    assessment = gov.risk_assessment_current(model)
    tier = assessment.effective_tier if assessment else model.risk_tier
    policy = policy or gov.policy_for_tier(tier or 1)
    stage_rules = policy.stage_rules(target_stage) or {"required_roles": [], "evidence": []}
    report = GateReport(
        target_stage=target_stage, tier=tier, policy_id=policy.pk, policy_version=policy.version,
        required_roles=list(stage_rules.get("required_roles", [])), policy=policy,
    )
    report.evidence["artifact_sha256"] = version.artifact_sha256
    report.evidence["datasets"] = sorted(
        e.upstream_dataset.ref for e in version.upstream_edges.all()
        if e.kind in (EdgeKind.TRAINED_ON, EdgeKind.EVALUATED_ON)
    )
    required = list(stage_rules.get("evidence", []))
    if version.kind == VersionKind.VENDOR:
        # What cannot be computed without an artifact is replaced by what the policy names.
        required = [k for k in required if k != "shap"]
        required += [k for k in policy.rules.get("vendor_evidence", []) if k not in required]
    # Risk assessment, documentation and findings are governance's to judge.
    for item in gov.governance_gate_items(
        model=model, version=version, target_stage=target_stage, policy=policy
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
    for key in required:
        if key == "shap":
            job = _job_gate(report, version, "shap")
            if job is not None:
                report.add(key, True, f"SHAP job #{job.pk} on artifact {version.artifact_sha256[:12]}.", job_id=job.pk)
        elif key in ("fairness", "outcome_analysis"):
            job = _job_gate(report, version, "fairness") if key == "fairness" else _outcome_job(report, version)
            if job is None:
                continue
            result = job.result or {}
            failed = _failed_fairness_metrics(result)
            if result.get("passed") and not failed:
                report.add(key, True, f"Job #{job.pk}: every metric within thresholds.", job_id=job.pk)
            else:
                report.add(key, False, f"Job #{job.pk}: outside thresholds: {', '.join(failed) or 'see result'}.", job_id=job.pk)
        elif key == "drift":
            job = evidence.latest_job(version, "drift")
            report.evidence.setdefault("jobs", {})["drift"] = job.pk if job else None
            verdict = (job.result or {}).get("verdict") if job else None
            report.add(key, job is not None and verdict != "drift",
                       f"Latest drift verdict: {verdict}." if job else "No drift job has run.")
        elif key == "vendor_validation_report":
            comp = gov.document_completeness(version, policy)
            attached = comp.get("vendor_validation_report", False)
            report.add(key, bool(attached), "Attached." if attached else "No vendor validation report is attached to the documentation.")
        elif key not in ("risk_assessment", "documentation", "no_open_high_findings"):
            report.add(key, False, f"The policy names evidence '{key}' that Gatehouse cannot judge.")
    return report


def _outcome_job(report: GateReport, version):
    job = evidence.latest_job(version, "fairness")
    report.evidence.setdefault("jobs", {})["outcome_analysis"] = job.pk if job else None
    if job is None or (job.params or {}).get("mode") != "decisions":
        report.add("outcome_analysis", False, "No fairness/outcome analysis on recorded decisions has succeeded.")
        return None
    return job


def _failed_fairness_metrics(result: dict) -> list[str]:
    failed = []
    for section in ("attributes", "intersections"):
        for attr, body in (result.get(section) or {}).items():
            for name, metric in (body.get("metrics") or {}).items():
                if isinstance(metric, dict) and metric.get("passed") is False:
                    failed.append(f"{name} for {attr}")
    return failed
