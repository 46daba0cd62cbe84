"""Every audit action has a plain label for people: the registered ones, and every action name
written anywhere in the code (so a new action cannot reach a page as a code)."""

from __future__ import annotations

import re
from pathlib import Path

from governance import audit
from governance.action_labels import ACTION_LABELS, action_label

ROOT = Path(__file__).resolve().parents[2]
APPS = ("common", "governance", "registry", "explainability", "oversight", "approvals",
        "mlflow_api", "openlineage_api", "portal", "demo")
def _recorded_literals() -> set[str]:
    """The action names passed as literals (`action="..."`) anywhere in the apps' code."""
    names: set[str] = set()
    pattern = re.compile(r"""action\s*=\s*["']([a-z_]+\.[a-z_]+\.[a-z_]+)["']""")
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                names |= set(pattern.findall(path.read_text()))
    return names


def test_every_registered_action_has_a_label():
    missing = sorted(a for a in audit.registered_actions() if a not in ACTION_LABELS)
    assert not missing, f"Give these actions a label in governance/action_labels.py: {missing}"


def test_every_action_the_code_records_is_registered_and_labelled():
    recorded = _recorded_literals()
    assert "approvals.promotion.requested" in recorded  # the scan finds the services' calls
    assert not sorted(recorded - audit.registered_actions())
    assert not sorted(recorded - set(ACTION_LABELS))


def test_labels_read_as_words():
    assert action_label("approvals.promotion.requested") == "Promotion requested"
    assert action_label("governance.document.signed_off") == "Document signed off"
    assert action_label("someapp.widget.polished") == "Widget polished"  # unlabelled fallback
    assert all("." not in label and "_" not in label for label in ACTION_LABELS.values())
