"""Finding registry rows for a URL, with the caller's visibility. A lookup by app label
(`apps.get_model`), not an import: governance depends on no other app."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Prefetch

from common.errors import NotFound
from governance import permissions as perms


def model_for_user(user, name: str):
    RegisteredModel = apps.get_model("registry", "RegisteredModel")
    model = RegisteredModel.objects.select_related("team", "owner").filter(name=name).first()
    if model is None or not perms.can_view_model(user, model):
        raise NotFound(f"No model named {name!r} that you can see.")
    return model


def version_for_user(user, name: str, number: int):
    ModelVersion = apps.get_model("registry", "ModelVersion")
    LineageEdge = apps.get_model("registry", "LineageEdge")
    model = model_for_user(user, name)
    version = (
        ModelVersion.objects.select_related("model__team", "model__owner", "created_by")
        .prefetch_related(Prefetch("upstream_edges", queryset=LineageEdge.objects.select_related(
            "upstream_dataset__dataset", "upstream_model__model")))
        .filter(model=model, version=number).first()
    )
    if version is None:
        raise NotFound(f"Model {name!r} has no version {number}.")
    return version
