"""The regulatory crosswalk file (governance/crosswalk.yaml): valid, complete for the frameworks
the issue names, and a loader that refuses a broken file with every problem listed."""

from __future__ import annotations

import copy

import pytest
import yaml

from approvals.compliance.judges import SOURCES
from governance import crosswalk
from governance.doc_templates import SEEDED_TEMPLATES


@pytest.fixture(scope="module")
def raw():
    with crosswalk.PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_the_file_loads_and_names_every_framework():
    cw = crosswalk.load()
    assert cw.version >= 2
    assert tuple(cw.frameworks) == ("eu-ai-act", "sr11-7", "ss1-23", "nist-ai-rmf", "iso-42001")


def test_every_obligation_id_is_unique_within_its_framework(raw):
    for slug, fw in raw["frameworks"].items():
        ids = [o["id"] for o in fw["obligations"]]
        assert len(ids) == len(set(ids)), slug


def test_every_evidence_source_is_one_the_evaluator_or_the_templates_know(raw):
    sections = {t["slug"]: {s["key"] for s in t["sections"]} for t in SEEDED_TEMPLATES}
    for slug, fw in raw["frameworks"].items():
        for ob in fw["obligations"]:
            for source in ob.get("evidence", []):
                kind, value = source.split(":", 1)
                if kind == "section":
                    template, key = value.split("/", 1)
                    assert key in sections[template], (slug, ob["id"], source)
                elif kind == "signoff":
                    assert value in sections, (slug, ob["id"], source)
                else:
                    assert value in SOURCES[kind], (slug, ob["id"], source)


def test_the_eu_ai_act_has_annex_iv_points_1_to_9_with_2a_to_2h_and_the_articles():
    ids = {o.id for o in crosswalk.load().framework("eu-ai-act").obligations}
    annex = {f"annex-iv-{n}" for n in range(1, 10) if n != 2} | {f"annex-iv-2{c}" for c in "abcdefgh"}
    articles = {f"art-{n}" for n in (9, 10, 11, 12, 13, 14, 15, 17, 72, 73)}
    assert annex | articles <= ids
    assert crosswalk.load().framework("eu-ai-act").applies_when == ("high",)


def test_sr11_7_covers_inventory_development_validation_and_governance():
    ids = [o.id for o in crosswalk.load().framework("sr11-7").obligations]
    assert "inventory" in ids
    for prefix in ("dev-", "val-", "gov-"):
        assert any(i.startswith(prefix) for i in ids), prefix


def test_ss1_23_has_principles_1_to_5():
    ids = [o.id for o in crosswalk.load().framework("ss1-23").obligations]
    for n in range(1, 6):
        assert any(i.startswith(f"p{n}-") for i in ids), n


def test_nist_ai_rmf_has_every_function_with_its_categories():
    ids = {o.id for o in crosswalk.load().framework("nist-ai-rmf").obligations}
    categories = {"govern": 6, "map": 5, "measure": 4, "manage": 4}
    assert ids == {f"{fn}-{n}" for fn, count in categories.items() for n in range(1, count + 1)}


def test_iso_42001_lists_annex_a_controls_that_concern_models():
    obligations = crosswalk.load().framework("iso-42001").obligations
    assert all(o.title.startswith("A.") for o in obligations)
    ids = {o.id for o in obligations}
    assert {"a-5-2", "a-6-2-4", "a-6-2-6", "a-6-2-8", "a-7-5", "a-8-4", "a-9-4"} <= ids


def test_a_duplicate_id_is_refused(raw):
    data = copy.deepcopy(raw)
    data["frameworks"]["sr11-7"]["obligations"].append(
        {"id": "inventory", "title": "again", "evidence": ["risk:assessment"]})
    with pytest.raises(crosswalk.CrosswalkError) as exc:
        crosswalk.parse(data)
    assert exc.value.problems == ["sr11-7: obligation id 'inventory' is used twice."]


def test_unknown_sources_sections_and_frameworks_are_refused_each_named(raw):
    data = copy.deepcopy(raw)
    del data["frameworks"]["iso-42001"]
    obligations = data["frameworks"]["sr11-7"]["obligations"]
    obligations[0]["evidence"] = ["job:lime", "section:sr11-7/no_such_section", "signoff:nope",
                                  "register:complaints", "telepathy"]
    obligations[1]["applies_when"] = ["extreme"]
    with pytest.raises(crosswalk.CrosswalkError) as exc:
        crosswalk.parse(data)
    text = "\n".join(exc.value.problems)
    assert "framework(s) iso-42001 missing." in text
    assert "'job:lime' is not one the evaluator knows" in text
    assert "'section:sr11-7/no_such_section' names a template section the templates do not have" in text
    assert "'signoff:nope' names a template that does not exist" in text
    assert "'register:complaints' is not one the evaluator knows" in text
    assert "'telepathy' is not written kind:value" in text
    assert "unknown EU AI Act class(es) ['extreme']" in text


def test_a_per_version_obligation_needs_evidence_and_an_organisation_control_none(raw):
    data = copy.deepcopy(raw)
    data["frameworks"]["ss1-23"]["obligations"][0]["evidence"] = []
    data["frameworks"]["ss1-23"]["obligations"][1]["scope"] = "organisation"
    with pytest.raises(crosswalk.CrosswalkError) as exc:
        crosswalk.parse(data)
    assert exc.value.problems == [
        "ss1-23 obligation 1 p1-inventory: a per-version obligation needs at least one evidence source.",
        "ss1-23 obligation 2 p1-tiering: an organisation-scope control names no per-version evidence.",
    ]
