"""A pipeline's registration (model by name, external artifact, no references, outside any
transaction) is ONE statement on PostgreSQL (registry.services._register_in_one_statement): the
numbering UPDATE, the version INSERT and the audit INSERT together, in autocommit. These tests
hold it to what the ordinary, transactional path writes and refuses. The tests are transactional
(no surrounding atomic block), as a request in production is."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from governance import audit
from governance.auditlog.sealer import seal
from governance.models import AuditEvent
from registry import services
from registry.models import ModelVersion, RegisteredModel
from tests import factories

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the one-statement registration is PostgreSQL's; SQLite takes the ordinary path",
    ),
]

VERSIONS = "/api/v1/models/credit-default/versions/"
BODY = {
    "artifact_uri": "s3://models/credit/model.onnx", "artifact_sha256": "ab" * 32,
    "framework": "sklearn", "code_commit": "c0ffee", "metrics": {"auc": 0.81},
    "hyperparameters": {"depth": 6}, "tags": ["gold", "candidate", "gold"],
    "description": "nightly retrain \u2014 caf\u00e9",
}
COMPARED = ("stage", "kind", "artifact_id", "artifact_uri", "artifact_sha256", "artifact_format",
            "framework", "framework_version", "code_repository", "code_commit", "hyperparameters",
            "metrics", "environment", "signature", "vendor", "provenance", "description", "tags",
            "stage_changed_at", "exclusive_production", "created_by_id")


@pytest.fixture
def model(personas):
    return factories.model(personas["engineer"])


def _event(version) -> AuditEvent:
    return AuditEvent.objects.get(action="registry.version.registered", object_id=str(version.pk))


def test_the_api_registers_in_one_statement_what_the_ordinary_path_writes(client_for, personas,
                                                                          model):
    client = client_for("engineer")
    with transaction.atomic():  # inside a transaction: the ordinary path
        ordinary = services.model_version_register(
            actor=personas["engineer"], model_name=model.name, **BODY)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(VERSIONS, BODY, format="json")
    assert response.status_code == 201, response.content
    writes = [q["sql"] for q in queries.captured_queries if "registry_modelversion" in q["sql"]]
    assert len(writes) == 1 and writes[0].startswith("WITH m AS (UPDATE")
    assert not any(q["sql"] in ("BEGIN", "COMMIT") for q in queries.captured_queries)

    fast = ModelVersion.objects.get(model=model, version=response.json()["version"])
    assert (ordinary.version, fast.version) == (1, 2)
    assert RegisteredModel.objects.get(pk=model.pk).latest_version == 2
    for field in COMPARED:
        assert getattr(fast, field) == getattr(ordinary, field), field
    assert fast.tags == ["candidate", "gold"] and fast.created_at is not None
    got = response.json()
    assert got["model"] == "credit-default" and got["version"] == 2
    assert got["training_datasets"] == [] and got["tags"] == ["candidate", "gold"]
    assert got == {**client.get(VERSIONS + "2/").json(), "version": 2}

    slow_event, fast_event = _event(ordinary), _event(fast)
    assert fast_event.object_repr == "credit-default@2"
    assert fast_event.object_type == slow_event.object_type == "registry.modelversion"
    assert fast_event.actor_name == "engineer" and fast_event.actor_roles == ["engineer"]
    assert fast_event.payload == {"after": {**slow_event.payload["after"], "version": 2}}
    assert fast_event.body == audit.event_body(fast_event)
    sealed = seal()
    assert sealed.checkpoint.tree_size == AuditEvent.objects.count()
    result = audit.verify_chain()
    assert result.ok, result


def test_refusals_take_the_ordinary_path_and_write_nothing(client_for, personas, model):
    cases = [
        ("other_engineer", VERSIONS, BODY, 404),  # not visible to another team's engineer
        ("auditor", VERSIONS, BODY, 403),  # reads everything, writes nothing
        ("validator", VERSIONS, BODY, 403),  # sees the model, is not of its team
        ("engineer", "/api/v1/models/no-such-model/versions/", BODY, 404),
        ("engineer", VERSIONS, {**BODY, "artifact_sha256": "xyz"}, 400),
        ("engineer", VERSIONS, {**BODY, "artifact_uri": "file:///etc/passwd"}, 400),
    ]
    clients = {persona: client_for(persona) for persona, *_ in cases}  # token events first
    events = AuditEvent.objects.count()
    for persona, path, body, status in cases:
        response = clients[persona].post(path, body, format="json")
        assert response.status_code == status, (persona, body, response.content)
    assert ModelVersion.objects.count() == 0
    assert RegisteredModel.objects.get(pk=model.pk).latest_version == 0
    assert AuditEvent.objects.count() == events
    # A statement that found no model took no audit position: the next event follows on.
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    assert clients["engineer"].post(VERSIONS, BODY, format="json").status_code == 201
    assert AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() == last + 1


def test_concurrent_pipelines_get_distinct_numbers_and_a_log_that_verifies(personas, model):
    engineer, errors, numbers = personas["engineer"], [], []
    barrier = threading.Barrier(8)

    def pipeline() -> None:
        try:
            barrier.wait()
            for _ in range(15):
                version = services.model_version_register(
                    actor=engineer, model_name=model.name,
                    artifact_uri="s3://models/credit/model.onnx", artifact_sha256="cd" * 32,
                )
                numbers.append(version.version)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pipeline) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 121))
    assert sorted(ModelVersion.objects.filter(model=model).values_list("version", flat=True)) == (
        list(range(1, 121)))
    reprs = set(AuditEvent.objects.filter(action="registry.version.registered")
                .values_list("object_repr", flat=True))
    assert reprs == {f"credit-default@{n}" for n in range(1, 121)}
    seal()
    result = audit.verify_chain()
    assert result.ok, result


def test_subscribers_get_the_event_as_written_and_tokens_in_user_text_stay_text(personas, model):
    seen = []
    audit.subscribe(seen.append)
    try:
        version = services.model_version_register(
            actor=personas["engineer"], model_name=model.name,
            artifact_uri="s3://models/credit/model.onnx", artifact_sha256="ef" * 32,
            description="GHSPLICE" + "0" * 32,  # looks like a stand-in: must stay as written
            provenance={"source": "GHSPLICE" + "1" * 32, "quote": 'a "b" \\ c'},
        )
    finally:
        audit._SUBSCRIBERS.remove(seen.append)
    [event] = seen
    stored = _event(version)
    assert (event.pk, event.seq, event.object_id) == (stored.pk, stored.seq, str(version.pk))
    assert event.payload == stored.payload and event.body == stored.body
    assert stored.payload["after"]["provenance"]["source"] == "GHSPLICE" + "1" * 32
    assert stored.payload["after"]["provenance"]["quote"] == 'a "b" \\ c'
    assert ModelVersion.objects.get(pk=version.pk).description == "GHSPLICE" + "0" * 32
    assert stored.body == audit.event_body(stored)
