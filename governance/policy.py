"""Tier policy rules as data: their shape, their validation and the seeded defaults.

A policy says, per target stage, which roles must approve and which evidence must exist; the
fairness thresholds and the sensitive attributes every fairness job must cover (besides those the
dataset declares); the documentation sections required; how long approvals and risk assessments
stay valid; whether more than one version may be in production. Pure code: no ORM.
"""

from __future__ import annotations

import copy
from typing import Any

from governance.choices import DECIDING_ROLES, POLICY_STAGES
from governance.fairness import FAIRNESS_METRICS, default_fairness_thresholds

#: Evidence a policy may require, key -> label. The gates that judge evidence live above
#: governance (approvals), so they declare their keys here at start-up (`register_evidence`):
#: a policy accepts exactly the evidence that some gate can judge.
_EVIDENCE: dict[str, str] = {}


def register_evidence(labels: dict[str, str]) -> None:
    """Declare evidence keys (and their labels) that tier policies may require."""
    _EVIDENCE.update(labels)


def evidence_kinds() -> tuple[str, ...]:
    """The evidence keys a policy may name, in declaration order."""
    return tuple(_EVIDENCE)

#: How an approved promotion executes: on the final approval, by the system (the default), or as
#: a separate step a person takes (`execution: "separate"`, top level or per stage).
EXECUTION_MODES = ("automatic", "separate")

_DAY_FIELDS = (
    "approval_validity_days", "request_deadline_days", "execution_window_days",
    "risk_assessment_validity_days",
)

#: Policy exceptions (a waiver of one gate for one version): the longest a waiver may run and
#: the roles that must approve it, when a stored policy predates these rules.
DEFAULT_EXCEPTION_MAX_DAYS = 90
DEFAULT_EXCEPTION_APPROVER_ROLES = ["validator"]


def exception_rules(rules: dict[str, Any]) -> tuple[int, list[str]]:
    """(exception_max_days, exception_approver_roles) of a policy's rules, with the defaults
    for a policy published before exceptions existed."""
    max_days = rules.get("exception_max_days", DEFAULT_EXCEPTION_MAX_DAYS)
    roles = rules.get("exception_approver_roles") or DEFAULT_EXCEPTION_APPROVER_ROLES
    return int(max_days), list(roles)


SR117_REQUIRED = [
    "purpose_and_use", "restrictions_on_use", "theory_and_design", "data_and_inputs",
    "methodology", "assumptions_and_limitations", "performance_testing", "implementation",
    "ongoing_monitoring",
]
ANNEX_IV_REQUIRED = [
    "general_description", "dev_methods", "dev_design", "dev_architecture", "dev_data",
    "dev_oversight", "dev_validation", "dev_cybersecurity", "monitoring_and_control",
    "performance_metrics", "risk_management", "lifecycle_changes", "standards_applied",
    "eu_declaration", "post_market_monitoring",
]


def _base(
    production_roles: list[str], validity: int, *, annex_iv: bool, sr117: list[str],
    exception_max_days: int = DEFAULT_EXCEPTION_MAX_DAYS,
    exception_roles: list[str] | None = None,
) -> dict[str, Any]:
    exception_roles = list(exception_roles or DEFAULT_EXCEPTION_APPROVER_ROLES)
    sections: dict[str, list[str]] = {"sr11-7": sr117}
    if annex_iv:
        sections["eu-ai-act-annex-iv"] = list(ANNEX_IV_REQUIRED)
    return {
        "stages": {
            "staging": {
                "required_roles": ["validator"],
                "evidence": ["shap", "documentation", "no_open_high_findings", "risk_assessment"],
            },
            "production": {
                "required_roles": production_roles,
                "evidence": [
                    "shap", "fairness", "documentation", "no_open_high_findings", "risk_assessment",
                ],
            },
        },
        "fairness_thresholds": default_fairness_thresholds(),
        "required_document_sections": sections,
        "approval_validity_days": validity,
        "request_deadline_days": 30,
        "execution_window_days": 14,
        "allow_multiple_production": False,
        "risk_assessment_validity_days": 365,
        "vendor_evidence": ["vendor_validation_report", "outcome_analysis"],
        "exception_max_days": exception_max_days,
        "exception_approver_roles": exception_roles,
    }


#: What tier 1 must show about performance before production (policy version 2 of tier 1 adds
#: it to installed databases: governance migration 0010).
TIER1_PERFORMANCE_EVIDENCE = ["evaluation_dataset", "performance_metrics", "code_commit"]


def default_rules(tier: int) -> dict[str, Any]:
    """Sensible defaults: the stricter the tier, the more approvers and the shorter the validity."""
    if tier == 1:
        rules = _base(["validator", "compliance", "business_approver"], 365, annex_iv=True,
                      sr117=list(SR117_REQUIRED), exception_max_days=90,
                      exception_roles=["validator", "compliance"])
        rules["stages"]["production"]["evidence"] += TIER1_PERFORMANCE_EVIDENCE
        return rules
    if tier == 2:
        return _base(["validator", "compliance"], 540, annex_iv=False, sr117=list(SR117_REQUIRED),
                     exception_max_days=180)
    if tier == 3:
        rules = _base(["validator"], 730, annex_iv=False,
                      sr117=["purpose_and_use", "restrictions_on_use", "data_and_inputs",
                             "performance_testing", "ongoing_monitoring"], exception_max_days=365)
        rules["stages"]["staging"]["evidence"] = ["documentation", "no_open_high_findings",
                                                  "risk_assessment"]
        rules["stages"]["production"]["evidence"] = ["shap", "documentation",
                                                     "no_open_high_findings", "risk_assessment"]
        return rules
    raise ValueError(f"Tier must be 1, 2 or 3, not {tier!r}.")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def rules_errors(rules: Any) -> dict[str, list[str]]:
    """Every problem with a rules document, keyed by the path of the offending entry."""
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if not isinstance(rules, dict):
        return {"rules": ["Rules must be a JSON object."]}
    stages = rules.get("stages")
    if not isinstance(stages, dict) or not stages:
        add("stages", "Give rules for at least one stage (staging, production).")
        stages = {}
    kinds = evidence_kinds()
    for stage, spec in stages.items():
        path = f"stages.{stage}"
        if stage not in POLICY_STAGES:
            add(path, f"Unknown stage {stage!r}; use {', '.join(POLICY_STAGES)}.")
            continue
        if not isinstance(spec, dict):
            add(path, "Must be an object with required_roles and evidence.")
            continue
        roles = spec.get("required_roles")
        if not isinstance(roles, list) or not roles:
            add(f"{path}.required_roles", "At least one approver role is required.")
        else:
            for role in roles:
                if role not in DECIDING_ROLES:
                    add(f"{path}.required_roles", f"{role!r} cannot approve promotions.")
            if len(set(roles)) != len(roles):
                add(f"{path}.required_roles", "A role is listed twice.")
        evidence = spec.get("evidence", [])
        if not isinstance(evidence, list):
            add(f"{path}.evidence", "Must be a list.")
        else:
            for item in evidence:
                if item not in kinds:
                    add(f"{path}.evidence", f"Unknown evidence {item!r}; use {', '.join(kinds)}.")
    thresholds = rules.get("fairness_thresholds", {})
    if not isinstance(thresholds, dict):
        add("fairness_thresholds", "Must be an object.")
    else:
        for metric, bound in thresholds.items():
            path = f"fairness_thresholds.{metric}"
            if metric not in FAIRNESS_METRICS:
                add(path, f"Unknown fairness metric; use {', '.join(FAIRNESS_METRICS)}.")
            elif not isinstance(bound, dict) or not bound or set(bound) - {"min", "max"}:
                add(path, 'Must be {"max": number} and/or {"min": number}.')
            elif not all(_is_number(v) for v in bound.values()):
                add(path, "Bounds must be numbers.")
    sections = rules.get("required_document_sections", {})
    if not isinstance(sections, dict):
        add("required_document_sections", "Must map a template slug to a list of section keys.")
    else:
        for slug, keys in sections.items():
            if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
                add(f"required_document_sections.{slug}", "Must be a list of section keys.")
    for field in _DAY_FIELDS:
        value = rules.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            add(field, "Must be a whole number of days, at least 1.")
    if not isinstance(rules.get("allow_multiple_production"), bool):
        add("allow_multiple_production", "Must be true or false.")
    attributes = rules.get("fairness_attributes", [])
    if not isinstance(attributes, list) or not all(isinstance(a, str) and a for a in attributes):
        add("fairness_attributes", "Must be a list of sensitive attribute (column) names that "
            "every fairness job must cover, besides those the dataset declares.")
    if "exception_max_days" in rules:
        value = rules["exception_max_days"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3650:
            add("exception_max_days", "Must be a whole number of days between 1 and 3650: the "
                "longest a policy exception may waive a gate.")
    if "exception_approver_roles" in rules:
        roles = rules["exception_approver_roles"]
        if not isinstance(roles, list) or not roles or any(r not in DECIDING_ROLES for r in roles):
            add("exception_approver_roles", "Must be a non-empty list of roles that decide "
                f"(from {', '.join(sorted(DECIDING_ROLES))}).")
        elif len(set(roles)) != len(roles):
            add("exception_approver_roles", "A role is listed twice.")
    intersections = rules.get("fairness_intersections", [])
    if not isinstance(intersections, list):
        add("fairness_intersections", 'Must be a list of attribute pairs, e.g. [["sex", "age_band"]].')
    else:
        for i, pair in enumerate(intersections):
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(a, str) and a for a in pair) or pair[0] == pair[1]):
                add(f"fairness_intersections[{i}]", "An intersection names two different sensitive "
                    'attributes, e.g. ["sex", "age_band"] (a fairness job computes every pair).')
    execution = rules.get("execution", "automatic")
    if execution not in EXECUTION_MODES:
        add("execution", f"Must be one of {', '.join(EXECUTION_MODES)}: automatic executes on the "
            "final approval (by the system), separate waits for a person to execute.")
    for stage, spec in stages.items():
        if isinstance(spec, dict) and spec.get("execution", "automatic") not in EXECUTION_MODES:
            add(f"stages.{stage}.execution", f"Must be one of {', '.join(EXECUTION_MODES)}.")
    vendor = rules.get("vendor_evidence", [])
    if not isinstance(vendor, list) or any(v not in kinds for v in vendor):
        add("vendor_evidence", f"Must be a list drawn from {', '.join(kinds)}.")
    return errors


def normalised(rules: dict[str, Any]) -> dict[str, Any]:
    """A deep copy, so a stored policy never shares mutable state with its caller."""
    return copy.deepcopy(rules)
