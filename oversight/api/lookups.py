"""Finding registry rows for a URL, with the caller's visibility (a 404 for what they may not see)."""

from __future__ import annotations

from django.db.models import Prefetch

from common.errors import NotFound, ValidationFailed
from governance import permissions as perms
from registry.models import LineageEdge, ModelVersion, RegisteredModel


def model_for_user(user, name: str) -> RegisteredModel:
    model = RegisteredModel.objects.select_related("team", "owner").filter(name=name).first()
    if model is None or not perms.can_view_model(user, model):
        raise NotFound(f"No model named {name!r} that you can see.")
    return model


def version_for_user(user, name: str, number: int) -> ModelVersion:
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


def version_from_input(model: RegisteredModel, fields: dict) -> ModelVersion | None:
    """Pop an input's optional `version` (a number) and return that version of `model`, or None
    when none was given; an unknown number is a 400 on the field."""
    if "version" not in fields:
        return None
    number = fields.pop("version")
    version = ModelVersion.objects.filter(model=model, version=number).first()
    if version is None:
        msg = f"Model {model.name!r} has no version {number}."
        raise ValidationFailed(msg, errors={"version": [msg]})
    return version
