"""POST /api/v1/lineage/openlineage/: run events from pipelines become datasets and edges."""

from __future__ import annotations

import uuid

import pytest

from governance.models import AuditEvent
from openlineage_api.models import OpenLineageDataset, RunEvent
from registry.models import Dataset, DatasetVersion, LineageEdge
from tests import contract, factories

URL = "/api/v1/lineage/openlineage/"
pytestmark = pytest.mark.django_db


def facet(**fields):
    return {"_producer": "https://example.com/pipeline", "_schemaURL": "https://example.com/s#/F",
            **fields}


def event(event_type="COMPLETE", *, run_id=None, time="2026-11-30T10:00:00Z", inputs=(), outputs=()):
    return {
        "eventType": event_type,
        "eventTime": time,
        "producer": "https://example.com/airflow",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": "airflow", "name": "credit_training.fit"},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }


def loans_input(*, rows=1000, role=None, columns=("income", "age")):
    item = {
        "namespace": "postgres://warehouse:5432",
        "name": "risk.public.loans",
        "facets": {"schema": facet(fields=[{"name": c, "type": "DOUBLE"} for c in columns])},
        "inputFacets": {"inputStatistics": facet(rowCount=rows)},
    }
    if role:
        item["inputFacets"]["gatehouse"] = facet(role=role)
    return item


def model_output(ref_model="credit-default", number=1):
    return {"namespace": "s3://models", "name": f"{ref_model}/{number}",
            "facets": {"gatehouse": facet(model=ref_model, version=number)}}


@pytest.fixture
def registered(personas):
    mdl = factories.model(personas["engineer"])
    return factories.version(personas["engineer"], mdl)


def test_complete_event_records_input_datasets_and_trained_on_edges(client_for, personas, registered):
    body = event(inputs=[loans_input(), loans_input(role="evaluation") | {"name": "risk.public.holdout"}],
                 outputs=[model_output()])
    response = client_for("engineer").post(URL, body, format="json")

    assert response.status_code == 201, response.json()
    outcome = response.json()["outcome"]
    assert outcome["models"] == ["credit-default@1"]
    loans = OpenLineageDataset.objects.get(name="risk.public.loans").dataset
    holdout = OpenLineageDataset.objects.get(name="risk.public.holdout").dataset
    assert loans.team.name == "credit" and loans.created_by == personas["engineer"]
    dv = DatasetVersion.objects.get(dataset=loans)
    assert dv.uri == "postgres://warehouse:5432/risk.public.loans"
    assert dv.row_count == 1000 and [c["name"] for c in dv.schema] == ["income", "age"]
    edges = {(e.kind, e.upstream_dataset.dataset_id)
             for e in LineageEdge.objects.filter(downstream_model=registered)}
    assert edges == {("trained_on", loans.pk), ("evaluated_on", holdout.pk)}
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-1] == "openlineage_api.runevent.received"
    assert "registry.lineage.appended" in actions
    assert actions.count("registry.dataset.registered") == 2


def test_a_resent_event_answers_the_first_result_and_writes_nothing(client_for, registered):
    body = event(inputs=[loans_input()], outputs=[model_output()])
    client = client_for("engineer")
    first = client.post(URL, body, format="json")
    events = AuditEvent.objects.count()

    again = client.post(URL, body, format="json")

    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert AuditEvent.objects.count() == events
    assert RunEvent.objects.count() == 1 and DatasetVersion.objects.count() == 1


def test_same_run_and_time_with_other_content_is_a_conflict(client_for, registered):
    run_id = str(uuid.uuid4())
    client = client_for("engineer")
    client.post(URL, event(run_id=run_id, inputs=[loans_input()]), format="json")

    response = client.post(URL, event(run_id=run_id, inputs=[loans_input(rows=5)]), format="json")

    assert response.status_code == 409
    assert "run id and event time" in response.json()["detail"]


def test_next_run_reuses_an_unchanged_dataset_version_and_adds_one_when_it_changed(client_for, registered):
    client = client_for("engineer")
    client.post(URL, event(inputs=[loans_input()]), format="json")
    client.post(URL, event(inputs=[loans_input()], time="2026-11-30T11:00:00Z"), format="json")
    assert DatasetVersion.objects.count() == 1

    client.post(URL, event(inputs=[loans_input(rows=1200)], time="2026-11-30T12:00:00Z"), format="json")

    loans = Dataset.objects.get()
    assert list(loans.versions.order_by("version").values_list("row_count", flat=True)) == [1000, 1200]


def test_start_events_are_recorded_but_change_no_lineage(client_for, registered):
    response = client_for("engineer").post(
        URL, event("START", inputs=[loans_input()], outputs=[model_output()]), format="json"
    )

    assert response.status_code == 201
    assert RunEvent.objects.get().event_type == "START"
    assert not Dataset.objects.exists() and not LineageEdge.objects.exists()


def test_output_matched_by_artifact_sha256_gets_the_edges(client_for, registered):
    output = {"namespace": "s3://models", "name": "model.skops",
              "facets": {"version": facet(datasetVersion=registered.artifact_sha256)}}

    response = client_for("engineer").post(URL, event(inputs=[loans_input()], outputs=[output]),
                                           format="json")

    assert response.status_code == 201
    assert response.json()["outcome"]["models"] == ["credit-default@1"]
    assert LineageEdge.objects.filter(downstream_model=registered, kind="trained_on").count() == 1


def test_an_event_that_fails_the_schema_is_400_with_the_schema_path(client_for):
    body = event()
    del body["job"]["name"]
    body["run"]["runId"] = "not-a-uuid"

    response = client_for("engineer").post(URL, body, format="json")

    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "schema_violation"
    assert "/job" in payload["errors"] and "schema: #/properties/job/required" in payload["errors"]["/job"][0]
    assert not RunEvent.objects.exists()


def test_bad_time_and_run_id_are_named(client_for):
    body = event(run_id="nope", time="yesterday")

    errors = client_for("engineer").post(URL, body, format="json").json()["errors"]

    assert "/run/runId" in errors and "/eventTime" in errors


def test_an_output_naming_an_unregistered_version_refuses_the_whole_event(client_for, registered):
    body = event(inputs=[loans_input()], outputs=[model_output(number=7)])

    response = client_for("engineer").post(URL, body, format="json")

    assert response.status_code == 404
    assert "credit-default@7" in response.json()["detail"]
    assert not Dataset.objects.exists() and not RunEvent.objects.exists()


def test_another_teams_model_is_not_reachable(client_for, registered):
    body = event(inputs=[loans_input()], outputs=[model_output()])

    response = client_for("other_engineer").post(URL, body, format="json")

    assert response.status_code == 404
    assert not LineageEdge.objects.filter(downstream_model=registered).exclude(
        upstream_dataset=None).exists()


def test_an_unknown_input_role_is_named(client_for, registered):
    body = event(inputs=[loans_input(role="scoring")], outputs=[model_output()])

    response = client_for("engineer").post(URL, body, format="json")

    assert response.status_code == 400
    assert "/inputs/0" in response.json()["errors"]


def test_new_dataset_needs_a_team_when_the_caller_has_several(client_for, personas):
    from governance import services as gov

    gov.user_create(username="multi", roles=["engineer"], teams=["credit", "fraud"], password="x")
    from governance.models import User

    _, key = gov.token_create(user=User.objects.get(username="multi"))
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    refused = client.post(URL, event(inputs=[loans_input()]), format="json")
    assert refused.status_code == 400 and "team" in refused.json()["errors"]

    accepted = client.post(URL + "?team=fraud", event(inputs=[loans_input()]), format="json")
    assert accepted.status_code == 201
    assert Dataset.objects.get().team.name == "fraud"


def test_contract(client_for):
    contract.assert_anonymous_401(URL, "post", event())
    contract.assert_auditor_403(client_for("auditor"), URL, "post", event())
