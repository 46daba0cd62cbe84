"""Fixtures of the vendor tests: a vendor version registered through the API (no artifact), a
COMPAS-like table, and jobs run in-process on the worker's code path."""

from __future__ import annotations

import pandas as pd
import pytest

from explainability import services
from tests import factories
from tests.vendor import compas


@pytest.fixture(autouse=True)
def _inline(settings, monkeypatch):
    settings.JOB_HEARTBEAT_SECONDS = 3600  # inline runs share the test transaction
    monkeypatch.setattr(services, "_enqueue", lambda job_id: None)


@pytest.fixture
def df() -> pd.DataFrame:
    return compas.table()


@pytest.fixture
def vendor_version(personas, client_for):
    from registry.models import ModelVersion

    factories.model(personas["owner"], name="recidivism-tool", owner="owner",
                    developers=["engineer"])
    response = client_for("engineer").post(
        "/api/v1/models/recidivism-tool/versions/",
        {"kind": "vendor", "vendor": {"name": "Northpointe", "product": "COMPAS Core",
                                      "version": "9.1", "contract": "CT-2024-117"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["artifact_sha256"] == ""
    return ModelVersion.objects.get(model__name="recidivism-tool", version=1)
