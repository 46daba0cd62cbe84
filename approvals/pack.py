"""The approval decisions section of the documentation pack (oversight.export.PACK_SECTIONS):
every promotion request of the version, each decision (who, in which role, when, the comment and
the conditions attached to it). Registered from ApprovalsConfig.ready(): oversight renders it
without importing approvals."""

from __future__ import annotations

from typing import Any

from approvals import selectors
from governance.choices import role_label


def decisions_pack_section(version) -> dict[str, Any]:
    requests = []
    for req in selectors.promotions_for_version(version):
        conditions: dict[int, list] = {}
        for c in req.conditions.all():
            conditions.setdefault(c.decision_id, []).append(c)
        requests.append({
            "request": req,
            "decisions": [
                {"decision": d, "role": role_label(d.role), "conditions": conditions.get(d.pk, [])}
                for d in req.decisions.all()
            ],
            "required_roles": [role_label(r) for r in req.required_roles],
        })
    return {"requests": requests}


def exceptions_pack_section(version) -> dict[str, Any]:
    """Every policy exception on the version: the gate waived, why, the compensating controls,
    who approved it and until when."""
    from approvals import gates

    rows = selectors.exceptions_for_version(version)
    for exc in rows:
        exc.gate_label = gates.label(exc.gate)
    return {"rows": rows}
