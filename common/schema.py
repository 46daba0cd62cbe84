"""OpenAPI generation rules shared by every app (drf-spectacular).

`manage.py check --deploy` generates the schema and reports each ambiguity as a warning, so the
rules here keep it unambiguous: the schema describes Gatehouse's own API under /api/v1/ (the MLflow
adapter speaks MLflow's published protocol and is described there), and a GET on a collection
path of a plain GenericAPIView is named a list.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework.generics import GenericAPIView

API_PREFIX = "/api/v1/"


def only_gatehouse_api(endpoints, **kwargs):
    """Preprocessing hook: keep the endpoints under /api/v1/."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]


class GatehouseAutoSchema(AutoSchema):
    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        # Views such as FindingListView answer GET with a list without being a ViewSet; without
        # this their GET is named "..._retrieve" like the detail view beside it.
        if (
            self.method == "GET"
            and isinstance(self.view, GenericAPIView)
            and getattr(self.view, "action", None) is None
            and not self.path.rstrip("/").endswith("}")
            and operation_id.endswith("_retrieve")
        ):
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id
