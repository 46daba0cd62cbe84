"""Helpers of the vendor tests: upload a table as a dataset version, start a decisions job
through the API and run it as a worker does (runtime.run_inline)."""

from __future__ import annotations

import io

import pandas as pd

from explainability import runtime
from explainability.models import Job
from registry import services as registry_services
from tests import factories
from tests.vendor import compas

MAPPING = {"positive_values": ["Medium", "High"], "negative_values": ["Low"]}


def upload(actor, frame: pd.DataFrame, *, fmt: str = "csv", name: str = "recidivism-decisions"):
    from registry.models import Dataset

    ds = Dataset.objects.filter(name=name).first() or factories.dataset(
        actor, name=name, sensitive_attributes=["race", "sex"]
    )
    buf = io.BytesIO()
    if fmt == "parquet":
        frame.to_parquet(buf, index=False)
    else:
        buf.write(frame.to_csv(index=False).encode())
    return registry_services.dataset_version_register(
        actor=actor, dataset=ds, file=factories.upload(buf.getvalue(), f"d.{fmt}"),
        filename=f"d.{fmt}",
    )


def params(**overrides):
    return {
        "mode": "decisions", "prediction_column": "score_text", "outcome_column": "two_year_recid",
        "score_column": "decile_score", "sensitive_attributes": ["race", "sex"],
        "filters": list(compas.FILTERS), **MAPPING, **overrides,
    }


def start_via_api(client, version, dv, p) -> Job:
    url = f"/api/v1/models/{version.model.name}/versions/{version.version}/jobs/"
    response = client.post(url, {"kind": "fairness", "dataset": dv.ref, "params": p}, format="json")
    assert response.status_code == 202, response.json()
    return Job.objects.get(pk=response.json()["id"])


def run(client, version, dv, p) -> Job:
    return runtime.run_inline(start_via_api(client, version, dv, p).pk)
