"""MLflow's side of the wire: error codes, stage names, and entities rendered as MLflow JSON
(the shapes of `model_registry.proto`: RegisteredModel, ModelVersion, tags, aliases)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

from common.errors import Conflict, DomainError, Forbidden, NotFound
from registry.choices import Stage

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
INTERNAL_ERROR = "INTERNAL_ERROR"

#: HTTP status of each error code, as MLflow's server answers (mlflow.exceptions).
HTTP_STATUS = {
    INVALID_PARAMETER_VALUE: 400, RESOURCE_ALREADY_EXISTS: 400, RESOURCE_DOES_NOT_EXIST: 404,
    PERMISSION_DENIED: 403, UNAUTHENTICATED: 401, RESOURCE_CONFLICT: 409,
    ENDPOINT_NOT_FOUND: 404, INTERNAL_ERROR: 500,
}


class MlflowError(Exception):
    """An answer in MLflow's error shape: {"error_code": ..., "message": ...}."""

    def __init__(self, error_code: str, message: str):
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    @property
    def status(self) -> int:
        return HTTP_STATUS.get(self.error_code, 400)


def invalid(message: str) -> MlflowError:
    return MlflowError(INVALID_PARAMETER_VALUE, message)


def from_domain_error(exc: DomainError) -> MlflowError:
    """Gatehouse's domain errors in MLflow's vocabulary (the sentence is kept)."""
    if isinstance(exc, NotFound):
        return MlflowError(RESOURCE_DOES_NOT_EXIST, exc.detail)
    if isinstance(exc, Forbidden):
        return MlflowError(PERMISSION_DENIED, exc.detail)
    if isinstance(exc, Conflict):
        code = RESOURCE_ALREADY_EXISTS if exc.code == "already_exists" else RESOURCE_CONFLICT
        return MlflowError(code, exc.detail)
    return MlflowError(INVALID_PARAMETER_VALUE, exc.detail)


# --- stages -----------------------------------------------------------------------------------

TO_MLFLOW_STAGE = {
    Stage.DEVELOPMENT: "None", Stage.STAGING: "Staging", Stage.PRODUCTION: "Production",
    Stage.ARCHIVED: "Archived",
}
FROM_MLFLOW_STAGE = {v.lower(): k for k, v in TO_MLFLOW_STAGE.items()}


def gatehouse_stage(mlflow_stage: str) -> str:
    """MLflow's stage name (any case) → Gatehouse's stage; unknown names are a 400."""
    stage = FROM_MLFLOW_STAGE.get(str(mlflow_stage or "").strip().lower())
    if stage is None:
        raise invalid(
            f"Invalid Model Version stage: {mlflow_stage}. Value must be one of "
            "None, Staging, Production, Archived."
        )
    return stage


# --- aliases ----------------------------------------------------------------------------------


def protected_aliases() -> frozenset[str]:
    return frozenset(a.lower() for a in settings.MLFLOW_PROTECTED_ALIASES)


def is_protected_alias(alias: str) -> bool:
    return alias.lower() in protected_aliases()


# --- rendering ------------------------------------------------------------------------------


def millis(moment: dt.datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment else 0


def version_updated_at(version, tags: list) -> dt.datetime:
    moments = [version.created_at, version.stage_changed_at]
    moments += [t.updated_at for t in tags]
    return max(m for m in moments if m)


def render_version(version, *, aliases: list[str], tags: list | None = None) -> dict[str, Any]:
    """A registry ModelVersion as MLflow's ModelVersion; its MLflow tags are `tags`, or else its
    (prefetched) `mlflow_tags`."""
    tags = list(version.mlflow_tags.all()) if tags is None else tags
    prov = version.provenance or {}
    out: dict[str, Any] = {
        "name": version.model.name,
        "version": str(version.version),
        "creation_timestamp": millis(version.created_at),
        "last_updated_timestamp": millis(version_updated_at(version, tags)),
        "user_id": version.created_by.username if version.created_by_id else "",
        "current_stage": TO_MLFLOW_STAGE.get(version.stage, "None"),
        "description": version.description,
        "source": prov.get("source") or version.artifact_uri,
        "run_id": prov.get("run_id", ""),
        "run_link": prov.get("run_link", ""),
        "status": "READY",
        "tags": [{"key": t.key, "value": t.value} for t in tags],
        "aliases": sorted(aliases),
    }
    return out


def render_model(model, *, latest: list, aliases: dict[str, int]) -> dict[str, Any]:
    """A registry RegisteredModel (with prefetched `mlflow_tags`) as MLflow's RegisteredModel.
    `latest` are the rendered latest versions per stage; `aliases` maps alias → version."""
    tag_times = [t.updated_at for t in model.mlflow_tags.all()]
    return {
        "name": model.name,
        "creation_timestamp": millis(model.created_at),
        "last_updated_timestamp": millis(max([model.updated_at, *tag_times])),
        "user_id": model.created_by.username if model.created_by_id else "",
        "description": model.description,
        "latest_versions": latest,
        "tags": [{"key": t.key, "value": t.value} for t in model.mlflow_tags.all()],
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(aliases.items())],
    }
