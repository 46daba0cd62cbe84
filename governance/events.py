"""Events governance declares (see common.events): what changed, for whoever must react.

Declared here, the lowest layer whose services publish them; approvals handles them.
"""

from __future__ import annotations

from common import events

#: The evidence a promotion is judged on changed for one model (key: the model's name): a
#: document or its sign-off, a finding, a risk assessment, a job result. Live promotion requests
#: of that model re-judge their evidence after the change commits.
EVIDENCE_CHANGED = events.declare(
    "governance.evidence_changed",
    "The evidence about a model changed; key: the model's name.",
)


def evidence_changed(model_name: str) -> None:
    """Publish EVIDENCE_CHANGED for `model_name` (call inside the change's transaction)."""
    if model_name:
        events.publish(EVIDENCE_CHANGED, key=model_name)
