"""Reads for the MLflow API: models and versions the caller may see, rendered as MLflow JSON,
with a bounded number of queries whatever the page size."""

from __future__ import annotations

from django.db.models import Max, Prefetch, QuerySet

from mlflow_api import protocol, search
from mlflow_api.models import ModelAlias
from mlflow_api.protocol import RESOURCE_DOES_NOT_EXIST, MlflowError
from registry import selectors as registry_selectors
from registry.choices import Stage
from registry.models import ModelVersion, RegisteredModel

MAX_MODEL_RESULTS = 1000
MAX_VERSION_RESULTS = 200_000


def models_for_user(user) -> QuerySet[RegisteredModel]:
    return registry_selectors.model_list_for_user(user).select_related("created_by").prefetch_related(
        "mlflow_tags", Prefetch("mlflow_aliases", queryset=ModelAlias.objects.select_related("version"))
    )


def versions_for_user(user) -> QuerySet[ModelVersion]:
    visible = registry_selectors.model_list_for_user(user).values("pk")
    return ModelVersion.objects.filter(model_id__in=visible).select_related(
        "model", "created_by"
    ).prefetch_related("mlflow_tags", "mlflow_aliases")


def model_get(user, name: str) -> RegisteredModel:
    model = models_for_user(user).filter(name=name).first()
    if model is None:
        raise MlflowError(
            RESOURCE_DOES_NOT_EXIST, f"Registered Model with name={name} not found (or not visible to you)."
        )
    return model


def model_for_write(user, name: str) -> RegisteredModel:
    """The model a write names, visible to `user`, without the tags and aliases a rendering
    needs (one query)."""
    model = registry_selectors.model_list_for_user(user).filter(name=name).first()
    if model is None:
        raise MlflowError(
            RESOURCE_DOES_NOT_EXIST, f"Registered Model with name={name} not found (or not visible to you)."
        )
    return model


def render_new_version(version: ModelVersion) -> dict:
    """A version registered in this request, rendered from what was written (no re-read): it
    has only the tags written with it, no aliases, and is in development, so no protected
    alias points at it."""
    tags = sorted(version.new_mlflow_tags, key=lambda t: t.key)  # as VersionTag's ordering
    return protocol.render_version(version, aliases=[], tags=tags)


def _version_number(version: str | int) -> int:
    try:
        number = int(str(version))
    except ValueError:
        raise protocol.invalid(f"Version must be a whole number, not {version!r}.") from None
    if number < 1:
        raise protocol.invalid(f"Version must be a whole number from 1, not {version!r}.")
    return number


def version_get(user, name: str, version: str | int) -> ModelVersion:
    number = _version_number(version)
    found = versions_for_user(user).filter(model__name=name, version=number).first()
    if found is None:
        raise MlflowError(
            RESOURCE_DOES_NOT_EXIST,
            f"Model Version (name={name}, version={number}) not found (or not visible to you).",
        )
    return found


def production_versions(model_ids) -> dict[int, int]:
    """model id → number of its current production version (the newest, if the policy allows
    several): what protected aliases resolve to. One query."""
    rows = (
        ModelVersion.objects.filter(model_id__in=list(model_ids), stage=Stage.PRODUCTION)
        .values("model_id").annotate(number=Max("version"))
    )
    return {r["model_id"]: r["number"] for r in rows}


def aliases_of_model(model: RegisteredModel, production: int | None) -> dict[str, int]:
    aliases = {a.alias: a.version.version for a in model.mlflow_aliases.all()}
    if production is not None:
        aliases.update({alias: production for alias in sorted(protocol.protected_aliases())})
    return aliases


def _render_versions(versions: list[ModelVersion]) -> list[dict]:
    production = production_versions({v.model_id for v in versions})
    out = []
    for v in versions:
        names = [a.alias for a in v.mlflow_aliases.all()]
        if production.get(v.model_id) == v.version:
            names += sorted(protocol.protected_aliases())
        out.append(protocol.render_version(v, aliases=names))
    return out


def render_version(version: ModelVersion) -> dict:
    return _render_versions([version])[0]


def latest_versions(models: list[RegisteredModel], stages: list[str] | None = None) -> dict[int, list]:
    """model id → its latest version in each stage (MLflow's `latest_versions`), rendered.
    Three queries for any number of models."""
    if not models:
        return {}
    rows = ModelVersion.objects.filter(model_id__in=[m.pk for m in models])
    if stages:
        rows = rows.filter(stage__in=stages)
    newest = rows.values("model_id", "stage").annotate(number=Max("version"))
    wanted = {(r["model_id"], r["number"]) for r in newest}
    if not wanted:
        return {m.pk: [] for m in models}
    candidates = (
        ModelVersion.objects.filter(model_id__in={m for m, _ in wanted}, version__in={n for _, n in wanted})
        .select_related("model", "created_by").prefetch_related("mlflow_tags", "mlflow_aliases")
    )
    found = [v for v in candidates if (v.model_id, v.version) in wanted]
    rendered = dict(zip([v.pk for v in found], _render_versions(found), strict=True))
    out: dict[int, list] = {m.pk: [] for m in models}
    for v in sorted(found, key=lambda v: v.version):
        out[v.model_id].append(rendered[v.pk])
    return out


def render_models(models: list[RegisteredModel]) -> list[dict]:
    latest = latest_versions(models)
    production = production_versions(m.pk for m in models)
    return [
        protocol.render_model(m, latest=latest[m.pk], aliases=aliases_of_model(m, production.get(m.pk)))
        for m in models
    ]


def model_search(user, *, filter_string: str | None, max_results: int, order_by: list[str],
                 page_token: str | None) -> tuple[list[dict], str]:
    comparisons = search.parse_filter(filter_string, fields=search.MODEL_FIELDS)
    qs = models_for_user(user).filter(*search.model_conditions(comparisons))
    qs = qs.order_by(*search.order_by(order_by, search.MODEL_ORDER, ["name"]))
    return search.page(qs, max_results=max_results, page_token=page_token,
                       limit=MAX_MODEL_RESULTS, render=render_models)


def version_search(user, *, filter_string: str | None, max_results: int, order_by: list[str],
                   page_token: str | None) -> tuple[list[dict], str]:
    comparisons = search.parse_filter(filter_string, fields=search.VERSION_FIELDS)
    qs = search.annotate_versions(versions_for_user(user))
    qs = qs.filter(*search.version_conditions(comparisons))
    qs = qs.order_by(*search.order_by(order_by, search.VERSION_ORDER, ["model__name", "-version"]))
    return search.page(qs, max_results=max_results, page_token=page_token,
                       limit=MAX_VERSION_RESULTS, render=_render_versions)


def version_by_alias(user, name: str, alias: str) -> ModelVersion:
    model = model_get(user, name)
    if protocol.is_protected_alias(alias):
        number = production_versions([model.pk]).get(model.pk)
        if number is None:
            raise MlflowError(
                RESOURCE_DOES_NOT_EXIST,
                f"Registered model alias {alias} not found: '{alias}' follows the production "
                f"version of {name}, and no version of {name} is in production.",
            )
        return version_get(user, name, number)
    found = next((a for a in model.mlflow_aliases.all() if a.alias == alias), None)
    if found is None:
        raise MlflowError(RESOURCE_DOES_NOT_EXIST, f"Registered model alias {alias} not found.")
    return version_get(user, name, found.version.version)
