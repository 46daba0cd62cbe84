"""Fairness on a vendor model's recorded decisions, run by a real Celery worker: the chunked run
(a chord of one task per Parquet row group and a merge) gives what one pass gives, and both equal
fairlearn on the same filtered rows."""

from __future__ import annotations

import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_difference, selection_rate

from explainability.models import Job
from registry.models import ModelVersion
from tests import factories
from tests.vendor import compas
from tests.vendor.helpers import params, start_via_api, upload

pytestmark = pytest.mark.integration


def test_decisions_chord_on_a_real_worker_equals_one_pass_and_fairlearn(
    personas, client_for, start_worker, job_done
):
    factories.model(personas["owner"], name="recidivism-tool", owner="owner",
                    developers=["engineer"])
    client = client_for("engineer")
    created = client.post("/api/v1/models/recidivism-tool/versions/",
                          {"kind": "vendor", "vendor": {"name": "Northpointe"}}, format="json")
    assert created.status_code == 201, created.content
    version = ModelVersion.objects.get(model__name="recidivism-tool", version=1)
    df = compas.table()
    dv = upload(personas["engineer"], df, fmt="parquet")
    worker = start_worker()

    chunked = job_done(start_via_api(client, version, dv, params(chunk_rows=400)).pk,
                       workers=[worker])
    whole = job_done(start_via_api(client, version, dv, params()).pk, workers=[worker])

    assert chunked.status == "succeeded", chunked.error_message
    assert whole.status == "succeeded", whole.error_message
    assert (chunked.result["chunks"], whole.result["chunks"]) == (4, 1)
    # The one pass says where the worker's time went (read vs metrics, wall and CPU seconds).
    timings = whole.result["timings"]
    assert "timings" not in chunked.result
    assert set(timings["cpu"]) == {"read_s", "metrics_s", "total_s"}
    for split in (timings, timings["cpu"]):
        assert abs(split["read_s"] + split["metrics_s"] - split["total_s"]) <= 0.001
    assert (chunked.chunks_total, chunked.chunks_done, chunked.progress) == (4, 4, 100)
    for key in ("attributes", "intersections", "population", "outcomes", "passed"):
        assert chunked.result[key] == whole.result[key], key

    rows = compas.filtered(df)
    y_true = rows.two_year_recid.to_numpy()
    y_pred = rows.score_text.isin(["Medium", "High"]).to_numpy().astype(int)
    assert chunked.result["population"]["rows_after"] == len(rows)
    for attribute in ("race", "sex"):
        block = chunked.result["attributes"][attribute]
        assert block["metrics"]["demographic_parity_difference"]["value"] == pytest.approx(
            demographic_parity_difference(y_true, y_pred, sensitive_features=rows[attribute]))
        frame = MetricFrame(metrics=selection_rate, y_true=y_true, y_pred=y_pred,
                            sensitive_features=rows[attribute])
        got = {g["group"]: g["selection_rate"] for g in block["groups"]}
        assert got == pytest.approx(frame.by_group.to_dict())
    assert Job.objects.get(pk=chunked.pk).attempts == 1
