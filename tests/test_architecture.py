"""The layering rule the import contract (`lint-imports`, pyproject.toml) cannot see: an app
reaches another app's models by importing them (so the contract checks the direction), never by
label through `apps.get_model(...)`. Migrations are exempt: they must use the historical models
that `apps.get_model` hands them."""

from __future__ import annotations

import ast
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent


def _project_apps() -> list[tuple[str, Path]]:
    """(label, folder) of every installed app that lives in this repository."""
    found = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if path.is_relative_to(ROOT) and ROOT / ".venv" not in path.parents:
            found.append((config.label, path))
    return found


def _label_lookups(tree: ast.AST):
    """Each `get_model(...)` call: (line, app label it names, or None when not a literal)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name != "get_model" or not node.args:
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield node.lineno, first.value.split(".")[0]
        else:
            yield node.lineno, None


def _offences(label: str, folder: Path) -> list[str]:
    out = []
    for path in sorted(folder.rglob("*.py")):
        if "migrations" in path.relative_to(folder).parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, named in _label_lookups(tree):
            if named != label:
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                where = f"{shown}:{line}"
                out.append(f"{where} looks up {named or 'a computed label'!r} models by label")
    return out


def test_the_scan_finds_a_lookup_of_another_apps_models(tmp_path):
    (tmp_path / "views.py").write_text(
        "from django.apps import apps\n\n"
        "def f():\n    return apps.get_model('registry', 'RegisteredModel')\n"
    )
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001.py").write_text("apps.get_model('registry', 'X')\n")
    (tmp_path / "own.py").write_text("apps.get_model('demoapp.Thing')\n")
    found = [o.split(" ", 1)[1] for o in _offences("demoapp", tmp_path.resolve())]
    assert found == ["looks up 'registry' models by label"]


def test_no_app_looks_up_another_apps_models_by_label():
    project = _project_apps()
    assert {"governance", "registry", "oversight", "approvals"} <= {label for label, _ in project}
    offences = [o for label, folder in project for o in _offences(label, folder)]
    assert not offences, "Import the models instead (the import contract then checks the " \
        "direction):\n" + "\n".join(offences)
