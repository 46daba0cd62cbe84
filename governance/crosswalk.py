"""The regulatory crosswalk as data: each obligation of each framework, and where Gatehouse holds
its evidence (governance/crosswalk.yaml, reviewed code with its own `version`).

Loaded once per process (`load()`), validated on load: every framework Gatehouse answers for is
present, obligation ids are unique within a framework, every `section:`/`signoff:` names a
template section the seeded documentation templates have, every other evidence source is one
that the evaluator above governance (approvals.compliance) declared at start-up
(`register_sources`, like the tier policies' evidence keys), and `applies_when` names EU AI Act
classes. A file that breaks any rule is refused with every problem listed. Pure code: no ORM.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from governance.choices import EuAiActClass
from governance.doc_templates import SEEDED_TEMPLATES, VENDOR_VALIDATION_REPORT_SECTION

PATH = Path(__file__).with_name("crosswalk.yaml")

#: The frameworks the compliance endpoint answers for (its `framework` parameter), in order.
FRAMEWORKS = ("eu-ai-act", "sr11-7", "ss1-23", "nist-ai-rmf", "iso-42001")

SCOPE_VERSION = "version"
SCOPE_ORGANISATION = "organisation"

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")

#: Evidence sources the evaluator judges, kind -> accepted values (declared by approvals).
_SOURCES: dict[str, frozenset[str]] = {}


def register_sources(kinds: dict[str, set[str] | frozenset[str]]) -> None:
    """Declare the evidence sources (kind -> values) an evaluator can judge."""
    for kind, values in kinds.items():
        _SOURCES[kind] = _SOURCES.get(kind, frozenset()) | frozenset(values)
    load.cache_clear()


def template_sections() -> dict[str, frozenset[str]]:
    """Template slug -> its section keys (the seeded templates, plus the vendor validation
    report section SR 11-7 v2 added)."""
    found = {t["slug"]: {s["key"] for s in t["sections"]} for t in SEEDED_TEMPLATES}
    found["sr11-7"].add(VENDOR_VALIDATION_REPORT_SECTION)
    return {slug: frozenset(keys) for slug, keys in found.items()}


def known_sources() -> dict[str, frozenset[str]]:
    """Every evidence source a crosswalk may name: kind -> values."""
    sections = template_sections()
    return {
        **_SOURCES,
        "section": frozenset(f"{slug}/{key}" for slug, keys in sections.items() for key in keys),
        "signoff": frozenset(sections),
    }


@dataclass(frozen=True)
class Obligation:
    """One obligation: met when every evidence source is met (organisation-scope controls are
    evidenced for the organisation, not per model version)."""

    id: str
    title: str
    evidence: tuple[str, ...]
    applies_when: tuple[str, ...] | None = None
    scope: str = SCOPE_VERSION


@dataclass(frozen=True)
class Framework:
    slug: str
    title: str
    obligations: tuple[Obligation, ...]
    applies_when: tuple[str, ...] | None = None
    not_applicable_reason: str = ""
    short: str = ""


@dataclass(frozen=True)
class Crosswalk:
    version: int
    frameworks: dict[str, Framework]

    def framework(self, slug: str) -> Framework:
        return self.frameworks[slug]


class CrosswalkError(ValueError):
    """The crosswalk file breaks a rule; `problems` lists every one (a sentence each)."""

    def __init__(self, problems: list[str]):
        super().__init__("The regulatory crosswalk is invalid:\n- " + "\n- ".join(problems))
        self.problems = problems


def _classes(value: Any, where: str, problems: list[str]) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        problems.append(f"{where}: applies_when must be a non-empty list of EU AI Act classes.")
        return None
    bad = [c for c in value if c not in EuAiActClass.values]
    if bad:
        problems.append(f"{where}: applies_when names unknown EU AI Act class(es) {bad}; "
                        f"known: {', '.join(EuAiActClass.values)}.")
    return tuple(value)


def _source_problem(source: Any, known: dict[str, frozenset[str]]) -> str | None:
    if not isinstance(source, str) or ":" not in source:
        return f"evidence source {source!r} is not written kind:value"
    kind, value = source.split(":", 1)
    if kind not in known:
        return f"evidence source {source!r} has an unknown kind {kind!r} (known: {', '.join(sorted(known))})"
    if value not in known[kind]:
        if kind == "section":
            return f"evidence source {source!r} names a template section the templates do not have"
        if kind == "signoff":
            return f"evidence source {source!r} names a template that does not exist"
        return (f"evidence source {source!r} is not one the evaluator knows "
                f"(known {kind}: {', '.join(sorted(known[kind]))})")
    return None


def _obligation(raw: Any, where: str, known, problems: list[str]) -> Obligation | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: an obligation must be a mapping with id, title and evidence.")
        return None
    oid, title = raw.get("id"), raw.get("title")
    if not isinstance(oid, str) or not _ID.match(oid):
        problems.append(f"{where}: obligation id {oid!r} must be lower-case letters, digits and dashes.")
        return None
    where = f"{where} {oid}"
    if not isinstance(title, str) or not title.strip():
        problems.append(f"{where}: the obligation needs a title.")
    scope = raw.get("scope", SCOPE_VERSION)
    if scope not in (SCOPE_VERSION, SCOPE_ORGANISATION):
        problems.append(f"{where}: scope must be {SCOPE_VERSION} or {SCOPE_ORGANISATION}, not {scope!r}.")
    evidence = raw.get("evidence", [])
    if not isinstance(evidence, list):
        problems.append(f"{where}: evidence must be a list of sources.")
        evidence = []
    if scope == SCOPE_VERSION and not evidence:
        problems.append(f"{where}: a per-version obligation needs at least one evidence source.")
    if scope == SCOPE_ORGANISATION and evidence:
        problems.append(f"{where}: an organisation-scope control names no per-version evidence.")
    for source in evidence:
        problem = _source_problem(source, known)
        if problem:
            problems.append(f"{where}: {problem}.")
    if len(set(evidence)) != len(evidence):
        problems.append(f"{where}: an evidence source is listed twice.")
    unknown = set(raw) - {"id", "title", "evidence", "applies_when", "scope"}
    if unknown:
        problems.append(f"{where}: unknown key(s) {sorted(unknown)}.")
    return Obligation(
        id=oid, title=str(title or ""), evidence=tuple(str(s) for s in evidence),
        applies_when=_classes(raw.get("applies_when"), where, problems), scope=scope,
    )


def parse(data: Any) -> Crosswalk:
    """A validated Crosswalk from the file's data, or CrosswalkError listing every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise CrosswalkError(["The crosswalk must be a mapping with version and frameworks."])
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append(f"version must be a positive integer, not {version!r}.")
    raw_frameworks = data.get("frameworks")
    if not isinstance(raw_frameworks, dict):
        raise CrosswalkError([*problems, "frameworks must be a mapping of slug -> framework."])
    missing = [slug for slug in FRAMEWORKS if slug not in raw_frameworks]
    if missing:
        problems.append(f"framework(s) {', '.join(missing)} missing.")
    extra = [slug for slug in raw_frameworks if slug not in FRAMEWORKS]
    if extra:
        problems.append(f"framework(s) {', '.join(extra)} are not ones Gatehouse answers for "
                        f"({', '.join(FRAMEWORKS)}).")
    known = known_sources()
    frameworks: dict[str, Framework] = {}
    for slug in [s for s in FRAMEWORKS if s in raw_frameworks]:
        raw = raw_frameworks[slug]
        if not isinstance(raw, dict) or not isinstance(raw.get("obligations"), list):
            problems.append(f"{slug}: a framework needs a title and a list of obligations.")
            continue
        obligations: list[Obligation] = []
        seen: set[str] = set()
        for i, item in enumerate(raw["obligations"]):
            ob = _obligation(item, f"{slug} obligation {i + 1}", known, problems)
            if ob is None:
                continue
            if ob.id in seen:
                problems.append(f"{slug}: obligation id {ob.id!r} is used twice.")
            seen.add(ob.id)
            obligations.append(ob)
        applies = _classes(raw.get("applies_when"), slug, problems)
        reason = str(raw.get("not_applicable_reason") or "")
        if (applies or any(o.applies_when for o in obligations)) and not reason:
            problems.append(f"{slug}: a framework with applies_when needs a not_applicable_reason.")
        frameworks[slug] = Framework(
            slug=slug, title=str(raw.get("title") or slug), obligations=tuple(obligations),
            applies_when=applies, not_applicable_reason=reason,
            short=str(raw.get("short") or slug),
        )
    if problems:
        raise CrosswalkError(problems)
    return Crosswalk(version=version, frameworks=frameworks)


@functools.cache
def load() -> Crosswalk:
    """The validated crosswalk (read once per process; `register_sources` clears the cache)."""
    with PATH.open(encoding="utf-8") as fh:
        return parse(yaml.safe_load(fh))
