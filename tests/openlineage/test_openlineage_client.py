"""The real openlineage-python client's HTTP transport, pointed at a live Gatehouse: a
pipeline's START and COMPLETE events put its datasets upstream of the model it trained."""

from __future__ import annotations

import uuid

import attr
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import schema_dataset
from openlineage.client.generated.base import DatasetFacet
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

from governance import services as gov
from openlineage_api.models import RunEvent as RunEventRecord
from registry.models import LineageEdge
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@attr.define
class GatehouseFacet(DatasetFacet):
    """The facet a pipeline adds to its model output: which Gatehouse version it is."""

    model: str
    version: int


def _client(url: str, key: str) -> OpenLineageClient:
    config = HttpConfig(
        url=url, endpoint="api/v1/lineage/openlineage/", timeout=30,
        auth=ApiKeyTokenProvider({"apiKey": key}),
    )
    return OpenLineageClient(transport=HttpTransport(config))


def test_client_events_show_the_pipeline_datasets_upstream_of_the_model(live_server, personas):
    engineer = personas["engineer"]
    version = factories.version(engineer, factories.model(engineer))
    _, key = gov.token_create(user=engineer)
    client = _client(live_server.url, key)
    run, job = Run(runId=str(uuid.uuid4())), Job(namespace="airflow", name="credit_training.fit")
    loans = InputDataset(
        namespace="postgres://warehouse:5432", name="risk.public.loans",
        facets={"schema": schema_dataset.SchemaDatasetFacet(fields=[
            schema_dataset.SchemaDatasetFacetFields(name="income", type="DOUBLE"),
        ])},
    )
    output = OutputDataset(namespace="s3://models", name="credit-default/1",
                           facets={"gatehouse": GatehouseFacet(model="credit-default", version=1)})

    client.emit(RunEvent(eventType=RunState.START, eventTime="2026-11-30T10:00:00.000Z", run=run,
                         job=job, producer="https://example.com/airflow", inputs=[loans]))
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime="2026-11-30T10:05:00.000Z",
                         run=run, job=job, producer="https://example.com/airflow",
                         inputs=[loans], outputs=[output]))

    assert list(RunEventRecord.objects.order_by("event_time").values_list("event_type", flat=True)) == [
        "START", "COMPLETE"]
    edge = LineageEdge.objects.get(downstream_model=version, kind="trained_on")
    assert edge.upstream_dataset.uri == "postgres://warehouse:5432/risk.public.loans"
    # The portal's lineage page for the model now shows the pipeline's dataset upstream.
    from django.test import Client

    browser = Client()
    browser.force_login(engineer)
    page = browser.get("/lineage/", {"node": "model:credit-default@1"})
    assert page.status_code == 200
    assert f"{edge.upstream_dataset.dataset.name}@1" in page.content.decode()
