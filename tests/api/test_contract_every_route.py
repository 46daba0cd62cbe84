"""The contract checks over every API route, found from the URL resolver and the OpenAPI schema
(no opting in: a new endpoint is checked the moment it is routed).

For every operation: anonymous callers get 401; an auditor's write is 403 and writes nothing;
another team's engineer gets 404 for anything about the credit team's objects. Routes that are
exceptions say why, here, in one place.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from explainability import services as jobs
from governance.models import AuditEvent
from tests import contract, factories
from tests.governance.helpers import CREDIT_ANSWERS

pytestmark = pytest.mark.django_db

WRITES = ("post", "put", "patch", "delete")

#: Operations anyone may call (no credentials).
PUBLIC = {
    ("get", "/api/v1/audit/public-key/"): "the key verifiers check checkpoints with is public",
}
#: Writes an auditor may make: about themselves, not the record.
AUDITOR_MAY_WRITE = {
    ("post", "/api/v1/notifications/{id}/read/"): "marking one's own notification read",
}
#: Object routes outside team visibility: reads are open to every signed-in user, so another
#: team's engineer is not refused by a 404 (and a write they may not make is a 403, not a 404).
NOT_TEAM_SCOPED = {
    "/api/v1/policies/{tier}/": "tier policies are the rules everyone works under",
    "/api/v1/policies/{tier}/versions/{version}/": "tier policies, by version",
    "/api/v1/audit/events/{position}/proof/": "inclusion proofs carry no event content",
    "/api/v1/notifications/{id}/read/": "one's own notifications (others' are 404 by owner)",
    "/api/v1/datasets/{name}/": "datasets are visible to every team (models train across teams)",
    "/api/v1/datasets/{dataset_name}/versions/": "datasets are visible to every team",
    "/api/v1/datasets/{dataset_name}/versions/{version}/": "datasets are visible to every team",
    "/api/v1/datasets/{dataset_name}/versions/{version}/file/": "datasets are visible to every "
    "team, their files with them, except a personal-data dataset's (a 403 naming the rule)",
}


def _schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method, path) for path, ops in schema["paths"].items() for method in ops
        if method in ("get", *WRITES)
    }


def _routed_paths(resolver=None, prefix: str = "") -> set[str]:
    """Every URL pattern under /api/v1/, written the way the schema writes paths."""
    found: set[str] = set()
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found |= _routed_paths(entry, route)
        elif isinstance(entry, URLPattern):
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).replace("{pk}", "{id}")
            path = path.replace("^", "").replace("$", "").replace("\\.", ".")
            if path.startswith("/api/v1/") and "(?P" not in path and "format" not in path:
                found.add(path)
    return found


def test_every_routed_api_path_is_in_the_schema():
    """So that the checks below, which walk the schema, reach every route."""
    documented = {path for _, path in _schema_operations()}
    routed = _routed_paths()
    assert len(routed) > 50 and "/api/v1/jobs/{id}/cancel/" in routed  # the walk finds them
    assert routed - documented == set()


@pytest.fixture
def world(personas, client_for, monkeypatch):
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: None)
    eng = personas["engineer"]
    model = factories.model(eng, owner="owner", developers=["engineer"])
    version = factories.version(eng, model)
    dataset = factories.dataset(eng)
    data = factories.dataset_version(eng, dataset)
    job = jobs.job_start(actor=eng, version=version, kind="shap", dataset=data)
    engineer = client_for("engineer")
    base = f"/api/v1/models/{model.name}"
    ra = engineer.post(f"{base}/risk-assessments/", {"answers": CREDIT_ANSWERS}, format="json")
    doc = engineer.post(f"{base}/versions/1/documents/", {"template": "sr11-7"}, format="json")
    finding = client_for("validator").post(
        "/api/v1/findings/", {"model": model.name, "title": "t", "severity": "low"},
        format="json",
    )
    promotion = client_for("owner").post(
        "/api/v1/promotions/",
        {"model": model.name, "version": 1, "target_stage": "staging", "justification": "j"},
        format="json",
    )
    incident = engineer.post(
        "/api/v1/incidents/",
        {"model": model.name, "title": "t", "description": "d", "occurred_at": "2026-01-01T10:00:00Z",
         "became_known_at": "2026-01-02T10:00:00Z", "serious": True, "seriousness": "death"},
        format="json",
    )
    restriction = engineer.post(f"{base}/use-restrictions/",
                                {"kind": "geography", "text": "UK only"}, format="json")
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    exception = engineer.post(
        "/api/v1/exceptions/",
        {"model": model.name, "version": 1, "gate": "shap", "reason": "r",
         "compensating_controls": "c", "expires_at": expires}, format="json",
    )
    for response in (ra, doc, finding, promotion, incident, restriction, exception):
        assert response.status_code == 201, response.content
    ids = {"jobs": job.pk, "documents": doc.json()["id"], "findings": finding.json()["id"],
           "incidents": incident.json()["id"],
           "risk-assessments": ra.json()["id"],
           "promotions": promotion.json()["id"], "exceptions": exception.json()["id"],
           "use-restrictions": restriction.json()["id"]}
    return {"model": model.name, "dataset": dataset.name, "ids": ids}


def _fill(path: str, world) -> str:
    """A real URL for a schema path: the credit team's objects in its parameters."""
    segments = path.strip("/").split("/")
    out = []
    for i, seg in enumerate(segments):
        match = re.fullmatch(r"\{(\w+)\}", seg)
        if not match:
            out.append(seg)
            continue
        param, owner = match.group(1), segments[i - 1]
        if param in ("model_name",) or (param == "name" and owner == "models"):
            out.append(world["model"])
        elif param == "dataset_name" or (param == "name" and owner == "datasets"):
            out.append(world["dataset"])
        elif param == "id":
            out.append(str(world["ids"].get(owner, 1)))
        elif param == "key":
            out.append("methodology")
        elif param == "name" and owner == "files":
            out.append("shap_bar.svg")
        else:  # version, number, tier, position, attachment_id, condition_id
            out.append("1")
    return "/" + "/".join(out) + ("/" if path.endswith("/") else "")


def test_anonymous_callers_get_401_on_every_operation(world):
    failures = []
    for method, path in sorted(_schema_operations()):
        if (method, path) in PUBLIC:
            continue
        response = getattr(APIClient(), method)(_fill(path, world), {}, format="json")
        if response.status_code != 401 or response.json().get("code") != "not_authenticated":
            failures.append(f"{method.upper()} {path}: {response.status_code}")
    assert failures == [], "\n".join(failures)


def test_auditors_get_403_on_every_write_and_nothing_is_written(world, client_for):
    auditor = client_for("auditor")
    failures = []
    for method, path in sorted(_schema_operations()):
        if method not in WRITES or (method, path) in AUDITOR_MAY_WRITE:
            continue
        before = AuditEvent.objects.count()
        response = getattr(auditor, method)(_fill(path, world), {}, format="json")
        body = response.json() if response.get("Content-Type", "").startswith("application/json") else {}
        if (response.status_code != 403 or "Auditors have read-only access" not in body.get("detail", "")
                or AuditEvent.objects.count() != before):
            failures.append(f"{method.upper()} {path}: {response.status_code} {body.get('detail')}")
    assert failures == [], "\n".join(failures)


def test_another_teams_engineer_gets_404_for_everything_about_the_teams_objects(world, client_for):
    outsider = client_for("other_engineer")
    failures = []
    for method, path in sorted(_schema_operations()):
        if "{" not in path or path in NOT_TEAM_SCOPED:
            continue
        url = _fill(path, world)
        response = getattr(outsider, method)(url, {}, format="json")
        if response.status_code != 404:
            failures.append(f"{method.upper()} {url}: {response.status_code}")
    assert failures == [], "\n".join(failures)


def test_on_objects_every_team_sees_another_teams_write_is_403_not_404(world, client_for):
    outsider = client_for("other_engineer")
    failures = []
    for method, path in sorted(_schema_operations()):
        if method not in WRITES or not path.startswith("/api/v1/datasets/{"):
            continue
        response = getattr(outsider, method)(_fill(path, world), {}, format="json")
        if response.status_code != 403:
            failures.append(f"{method.upper()} {path}: {response.status_code}")
    assert failures == [], "\n".join(failures)


def test_the_helpers_outsider_check_is_the_one_used_here(world, client_for):
    contract.assert_outsider_404(client_for("other_engineer"), f"/api/v1/jobs/{world['ids']['jobs']}/")
