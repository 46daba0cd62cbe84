"""Compliance of model versions against the regulatory crosswalk (governance/crosswalk.yaml).

Per version and framework, obligation by obligation: **met** (every evidence source met, with
links to the evidence and its hash), **missing** (what to do), or **not applicable** (why: the
model's EU AI Act class is outside the framework's or obligation's `applies_when`, or the
control is evidenced for the organisation, not per version). The evidence of any number of
versions is read once (`evidence.load`, a fixed number of queries) and judged in Python.

It lives in approvals because it judges approvals' records (executed promotions, validators'
decisions) beside those of the apps below.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from approvals.compliance import evidence as evidence_mod
from approvals.compliance.judges import SOURCES, judge
from governance import crosswalk
from registry import selectors as registry_selectors

MET, MISSING, NOT_APPLICABLE = "met", "missing", "not_applicable"
STATUSES = (MET, MISSING, NOT_APPLICABLE)

ORGANISATION_REASON = ("An organisation-wide control: it is evidenced by the organisation's AI "
                       "management system (policies, training, engagement), not per model version.")

__all__ = ["MET", "MISSING", "NOT_APPLICABLE", "SOURCES", "evaluate", "evaluate_versions",
           "badges_for_models", "framework_names", "summary"]


def framework_names() -> tuple[str, ...]:
    return crosswalk.FRAMEWORKS


def _class_label(value: str) -> str:
    return value or "not assessed"


def _not_applicable(applies_when, eu_class: str) -> bool:
    """Outside `applies_when`, once the class is known: an unassessed model is judged as if the
    obligations apply (they may), never excused by not being assessed."""
    return bool(applies_when) and bool(eu_class) and eu_class not in applies_when


def _obligation(ob, fw, ev, memo: dict[str, dict]) -> dict[str, Any]:
    eu_class = ev.model.eu_ai_act_class
    row: dict[str, Any] = {"id": ob.id, "title": ob.title, "status": MET, "reason": "",
                           "todo": [], "evidence": []}
    if _not_applicable(fw.applies_when, eu_class) or _not_applicable(ob.applies_when, eu_class):
        row["status"] = NOT_APPLICABLE
        row["reason"] = fw.not_applicable_reason.format(eu_ai_act_class=_class_label(eu_class))
        return row
    if ob.scope == crosswalk.SCOPE_ORGANISATION:
        row["status"], row["reason"] = NOT_APPLICABLE, ORGANISATION_REASON
        return row
    for source in ob.evidence:
        if source not in memo:
            memo[source] = judge(ev, source)
        result = memo[source]
        row["evidence"].append(result)
        if not result["met"]:
            row["status"] = MISSING
            if result["todo"] and result["todo"] not in row["todo"]:
                row["todo"].append(result["todo"])
    return row


def _framework(fw, ev, memo) -> dict[str, Any]:
    rows = [_obligation(ob, fw, ev, memo) for ob in fw.obligations]
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in STATUSES}
    eu_class = ev.model.eu_ai_act_class
    applicable = not _not_applicable(fw.applies_when, eu_class)
    if not fw.applies_when:
        applicability = "Applies to every model."
    elif not eu_class:
        applicability = ("The model's EU AI Act class is not assessed yet: its obligations are "
                         "judged as if they apply until a risk assessment says otherwise.")
    elif applicable:
        applicability = f"Applies: the model's EU AI Act class is {eu_class}."
    else:
        applicability = fw.not_applicable_reason.format(eu_ai_act_class=eu_class)
    return {
        "framework": fw.slug, "short": fw.short, "title": fw.title, "applicable": applicable,
        "applicability": applicability, "counts": counts,
        "all_met": applicable and counts[MISSING] == 0 and counts[MET] > 0,
        "obligations": rows,
    }


def _report(ev, cw, frameworks: list[str]) -> dict[str, Any]:
    memo: dict[str, dict] = {}
    return {
        "model": ev.model.name, "version": ev.version.version, "ref": ev.version.ref,
        "stage": ev.version.stage, "eu_ai_act_class": ev.model.eu_ai_act_class or None,
        "risk_tier": ev.model.risk_tier, "crosswalk_version": cw.version,
        "evaluated_at": ev.now,
        "frameworks": [_framework(cw.framework(slug), ev, memo) for slug in frameworks],
    }


def evaluate_versions(versions: list, *, now: dt.datetime | None = None,
                      frameworks: list[str] | None = None) -> dict[int, dict[str, Any]]:
    """Reports for several versions (each with `model` and `model.owner` joined), by version id,
    in the same number of queries as one."""
    now = now or timezone.now()
    cw = crosswalk.load()
    wanted = list(frameworks or crosswalk.FRAMEWORKS)
    loaded = evidence_mod.load(versions, now=now)
    return {vid: _report(ev, cw, wanted) for vid, ev in loaded.items()}


def evaluate(version, *, now: dt.datetime | None = None,
             framework: str | None = None) -> dict[str, Any]:
    """One version's report: every framework, or the one named."""
    return evaluate_versions([version], now=now,
                             frameworks=[framework] if framework else None)[version.pk]


def badges_for_models(models: list, *, now: dt.datetime | None = None) -> dict[int, list[dict]]:
    """For the inventory: per model, the frameworks whose every applicable obligation is met by
    its current version ({"framework", "title", "version"}). A bounded number of queries
    whatever the number of models."""
    current = registry_selectors.current_versions([m.pk for m in models])
    reports = evaluate_versions(list(current.values()), now=now)
    out: dict[int, list[dict]] = {m.pk: [] for m in models}
    for model_id, version in current.items():
        report = reports[version.pk]
        out[model_id] = [
            {"framework": f["framework"], "short": f["short"], "title": f["title"],
             "version": version.version,
             "counts": f["counts"]}
            for f in report["frameworks"] if f["all_met"]
        ]
    return out


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the obligations (the endpoint's answer without `framework`)."""
    return {**report, "frameworks": [
        {k: v for k, v in f.items() if k != "obligations"} for f in report["frameworks"]
    ]}

