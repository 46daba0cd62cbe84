"""Fixtures for the MLflow API tests: the real MLflow client pointed at a live Gatehouse."""

from __future__ import annotations

import pytest

from governance import services as gov

SHA_A = "a" * 64
SHA_B = "b" * 64
TRACKING_ELSEWHERE = "http://127.0.0.1:9"


@pytest.fixture
def mlflow_env(monkeypatch):
    """No retries (a refused call fails at once) and tracking kept away from Gatehouse."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    return monkeypatch


@pytest.fixture
def mlflow_as(live_server, personas, mlflow_env):
    """mlflow_as("owner") → an MlflowClient whose calls carry that persona's Gatehouse token
    (MLFLOW_TRACKING_TOKEN, as an engineer would set it). The client reads credentials at each
    call, so the last persona asked for is the one speaking."""
    from mlflow import MlflowClient

    def _as(name: str, *, basic: bool = False) -> MlflowClient:
        if basic:
            mlflow_env.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
            mlflow_env.setenv("MLFLOW_TRACKING_USERNAME", name)
            mlflow_env.setenv("MLFLOW_TRACKING_PASSWORD", "pw-" + name)
        else:
            mlflow_env.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
            mlflow_env.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
            _, key = gov.token_create(user=personas[name])
            mlflow_env.setenv("MLFLOW_TRACKING_TOKEN", key)
        # Tracking stays elsewhere (never contacted here); the registry is Gatehouse.
        return MlflowClient(tracking_uri=TRACKING_ELSEWHERE, registry_uri=live_server.url)

    return _as
