"""What Gatehouse already knows about a version, turned into documentation text.

`facts_for_version(version)` reads the registry objects it is given (attributes only: governance
imports no other app) plus whatever fact providers other apps registered (explainability adds SHAP
top features and the fairness table). `render(kind, facts)` writes a section's first draft.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from governance.fairness import threshold_text

_PROVIDERS: list[Callable[[Any], dict[str, Any]]] = []


def register_fact_provider(provider: Callable[[Any], dict[str, Any]]) -> None:
    """Apps above governance add facts: provider(version) -> {"shap_top_features": [...], ...}."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def facts_for_version(version, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-able snapshot of the registry's facts about `version` (a registry ModelVersion)."""
    model = version.model
    edges = list(version.upstream_edges.all())
    training = sorted(e.upstream_dataset.ref for e in edges if e.kind == "trained_on")
    evaluation = sorted(e.upstream_dataset.ref for e in edges if e.kind == "evaluated_on")
    parents = sorted(e.upstream_model.ref for e in edges if e.kind == "derived_from")
    datasets = {}
    for e in edges:
        if e.upstream_dataset_id:
            dv = e.upstream_dataset
            datasets[dv.ref] = {
                "sha256": dv.sha256, "rows": dv.row_count, "columns": len(dv.schema or []),
                "personal_data": bool(getattr(dv.dataset, "contains_personal_data", False)),
                "sensitive_attributes": list(getattr(dv.dataset, "sensitive_attributes", []) or []),
                "description": dv.description or dv.dataset.description,
            }
    history = [
        {"version": v.version, "stage": v.stage, "created_at": v.created_at,
         "description": v.description}
        for v in model.versions.order_by("version")
    ]
    facts: dict[str, Any] = {
        "model": {
            "name": model.name, "title": model.title, "description": model.description,
            "team": model.team.name, "owner": getattr(model.owner, "username", None),
            "business_use_case": model.business_use_case, "intended_use": model.intended_use,
            "limitations": model.limitations, "risk_tier": model.risk_tier,
            "eu_ai_act_class": model.eu_ai_act_class,
        },
        "version": {
            "version": version.version, "ref": version.ref, "kind": version.kind,
            "stage": version.stage, "artifact_sha256": version.artifact_sha256,
            "artifact_format": version.artifact_format, "artifact_uri": version.artifact_uri,
            "framework": version.framework, "framework_version": version.framework_version,
            "code_repository": version.code_repository, "code_commit": version.code_commit,
            "hyperparameters": version.hyperparameters, "metrics": version.metrics,
            "environment": version.environment, "signature": version.signature,
            "vendor": version.vendor, "description": version.description,
            "created_by": getattr(version.created_by, "username", None),
            "created_at": version.created_at,
        },
        "lineage": {"training_datasets": training, "evaluation_datasets": evaluation,
                    "parents": parents, "datasets": datasets},
        "history": history,
    }
    risk = _risk_facts(model)
    if risk:
        facts["risk"] = risk
    for provider in list(_PROVIDERS):
        facts.update(provider(version) or {})
    facts.update(extra or {})
    return _jsonable(facts)


def _risk_facts(model) -> dict[str, Any] | None:
    """The model's current risk assessment, as the risk section's first draft uses it."""
    from oversight.selectors import risk_assessment_current  # selectors -> services -> here

    current = risk_assessment_current(model)
    if current is None:
        return None
    return {
        "effective_tier": current.effective_tier, "computed_tier": current.computed_tier,
        "override_tier": current.override_tier,
        "override_justification": current.override_justification,
        "eu_ai_act_class": current.eu_ai_act_class, "reasons": current.reasons,
    }


# --- Markdown first drafts -----------------------------------------------------------------


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v if v is not None else "").replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _kv(mapping: dict[str, Any]) -> str:
    return _table(["name", "value"], [[k, json.dumps(v) if isinstance(v, (dict, list)) else v]
                                      for k, v in sorted((mapping or {}).items())])


def _lineage(facts: dict) -> str:
    lin = facts.get("lineage") or {}
    out = []
    if lin.get("training_datasets"):
        out.append("**Training data:** " + ", ".join(f"`{r}`" for r in lin["training_datasets"]))
    if lin.get("evaluation_datasets"):
        out.append("**Evaluation data:** " + ", ".join(f"`{r}`" for r in lin["evaluation_datasets"]))
    rows = [[ref, d.get("rows"), d.get("columns"), "yes" if d.get("personal_data") else "no",
             ", ".join(d.get("sensitive_attributes") or []) or "-", (d.get("sha256") or "")[:16]]
            for ref, d in sorted((lin.get("datasets") or {}).items())]
    if rows:
        out.append(_table(["dataset version", "rows", "columns", "personal data",
                           "sensitive attributes", "sha256 (prefix)"], rows))
    sig = ((facts.get("version") or {}).get("signature") or {}).get("inputs") or []
    if sig:
        out.append("**Input features:** " + ", ".join(f"`{i.get('name')}` ({i.get('type', '?')})"
                                                      for i in sig))
    return "\n\n".join(out)


def _parents(facts: dict) -> str:
    parents = (facts.get("lineage") or {}).get("parents") or []
    vendor = (facts.get("version") or {}).get("vendor") or {}
    out = []
    if parents:
        out.append("Derived from: " + ", ".join(f"`{p}`" for p in parents))
    if vendor:
        out.append("Vendor component:\n\n" + _kv(vendor))
    return "\n\n".join(out)


def _vendor(facts: dict) -> str:
    v = facts.get("version") or {}
    vendor = v.get("vendor") or {}
    if v.get("kind") != "vendor" and not vendor:
        return ""
    out = ["A vendor (third-party) model: Gatehouse holds no artifact, so its code and weights "
           "are not inspected here; it is judged on the vendor's evidence and on outcome analysis "
           "of its recorded decisions."]
    if vendor:
        out.append(_kv(vendor))
    return "\n\n".join(out)


def _methodology(facts: dict) -> str:
    v = facts.get("version") or {}
    out = [f"Framework: {v.get('framework') or 'n/a'} {v.get('framework_version') or ''}".strip()]
    if v.get("code_repository") or v.get("code_commit"):
        out.append(f"Code: `{v.get('code_repository') or '?'}` at commit `{v.get('code_commit') or '?'}`")
    if v.get("hyperparameters"):
        out.append("Hyperparameters:\n\n" + _kv(v["hyperparameters"]))
    return "\n\n".join(out)


def _design(facts: dict) -> str:
    v = facts.get("version") or {}
    m = facts.get("model") or {}
    parts = [p for p in [m.get("description"), v.get("description")] if p]
    parts.append(f"Model type: {v.get('framework') or 'n/a'} ({v.get('artifact_format') or v.get('kind')}).")
    return "\n\n".join(parts)


def _implementation(facts: dict) -> str:
    v = facts.get("version") or {}
    out = [f"Artifact: `{v.get('artifact_format') or v.get('kind')}` sha256 `{v.get('artifact_sha256') or '-'}`"]
    if v.get("artifact_uri"):
        out.append(f"Location: `{v['artifact_uri']}`")
    env = v.get("environment") or {}
    if env:
        pkgs = env.get("packages") or {}
        out.append(f"Runtime: Python {env.get('python', '?')}; "
                   + ", ".join(f"{k} {val}" for k, val in sorted(pkgs.items())))
    return "\n\n".join(out)


def _metrics(facts: dict) -> str:
    metrics = (facts.get("version") or {}).get("metrics") or {}
    return _kv(metrics) if metrics else ""


def _performance(facts: dict) -> str:
    out = []
    if (facts.get("version") or {}).get("metrics"):
        out.append("**Hold-out metrics**\n\n" + _metrics(facts))
    shap = facts.get("shap_top_features") or []
    if shap:
        out.append("**Main drivers (mean |SHAP|)**\n\n" + _table(
            ["feature", "mean |SHAP|"],
            [[f.get("feature"), f.get("mean_abs_shap", f.get("importance"))] for f in shap]))
    fairness = facts.get("fairness") or []
    if fairness:
        out.append("**Fairness across groups**\n\n" + _table(
            ["attribute", "metric", "value", "threshold", "passed"],
            [[r.get("attribute"), r.get("metric"), r.get("value"), threshold_text(r.get("threshold")),
              "yes" if r.get("passed") else "no"] for r in fairness]))
    return "\n\n".join(out)


def _history(facts: dict) -> str:
    rows = [[h.get("version"), h.get("stage"), (h.get("created_at") or "")[:10], h.get("description")]
            for h in facts.get("history") or []]
    return _table(["version", "stage", "registered", "description"], rows) if rows else ""


def _risk(facts: dict) -> str:
    risk = facts.get("risk") or {}
    m = facts.get("model") or {}
    tier = risk.get("effective_tier") or m.get("risk_tier")
    if not tier:
        return ""
    out = [f"Risk tier: **{tier}**; EU AI Act class: **{risk.get('eu_ai_act_class') or m.get('eu_ai_act_class')}**."]
    if risk.get("override_tier"):
        out.append(f"Computed tier {risk.get('computed_tier')} overridden by a validator: "
                   f"{risk.get('override_justification')}")
    for reason in risk.get("reasons") or []:
        out.append(f"- {reason.get('effect')}")
    return "\n\n".join(out[:2]) + ("\n\n" + "\n".join(out[2:]) if len(out) > 2 else "")


def _general(facts: dict) -> str:
    m = facts.get("model") or {}
    v = facts.get("version") or {}
    rows = [["Name", m.get("title") or m.get("name")], ["Version", v.get("ref")],
            ["Owner", m.get("owner")], ["Team", m.get("team")],
            ["Intended purpose", m.get("intended_use")], ["Business use", m.get("business_use_case")],
            ["Framework", f"{v.get('framework') or ''} {v.get('framework_version') or ''}".strip()]]
    return _table(["", ""], rows)


_RENDERERS: dict[str, Callable[[dict], str]] = {
    "model.intended_use": lambda f: "\n\n".join(
        p for p in [(f.get("model") or {}).get("intended_use"),
                    (f.get("model") or {}).get("business_use_case")] if p),
    "model.limitations": lambda f: (f.get("model") or {}).get("limitations") or "",
    "version.design": _design,
    "version.methodology": _methodology,
    "version.implementation": _implementation,
    "version.metrics": _metrics,
    "version.history": _history,
    "lineage": _lineage,
    "lineage.parents": _parents,
    "version.vendor": _vendor,
    "performance": _performance,
    "risk": _risk,
    "general": _general,
}


def render(kind: str, facts: dict[str, Any], fields: dict[str, Any] | None = None) -> str:
    """The first draft of a section from its `prefill` kind; '' when nothing is known."""
    if not kind:
        return ""
    if kind.startswith("fields."):
        return str((fields or {}).get(kind.split(".", 1)[1]) or "")
    renderer = _RENDERERS.get(kind)
    return renderer(facts).strip() if renderer else ""
