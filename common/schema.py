"""OpenAPI generation rules shared by every app (drf-spectacular).

`manage.py check --deploy` generates the schema and reports each ambiguity as a warning, so the
rules here keep it unambiguous: the schema describes Gatehouse's own API under /api/v1/ (the MLflow
adapter speaks MLflow's published protocol and is described there), and a GET on a collection
path of a plain GenericAPIView is named a list.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework.generics import GenericAPIView

from common.api import InputSerializer

API_PREFIX = "/api/v1/"


def only_gatehouse_api(endpoints, **kwargs):
    """Preprocessing hook: keep the endpoints under /api/v1/."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]


class GatehouseAutoSchema(AutoSchema):
    def _is_plain_collection_get(self) -> bool:
        # Views such as FindingListView answer GET with a page of rows without being a ViewSet;
        # drf-spectacular would otherwise describe (and name) that GET like the detail beside it.
        return (
            self.method == "GET"
            and isinstance(self.view, GenericAPIView)
            and getattr(self.view, "action", None) is None
            and not self.path.rstrip("/").endswith("}")
            and getattr(self.view, "pagination_class", None) is not None
            and getattr(self.view, "serializer_class", None) is not None
        )

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        self.path, self.method = path, method.upper()  # as super() sets them, for the check below
        if self._is_plain_collection_get() and getattr(self.view, "queryset", None) is None:
            # These views build their queryset per user (visibility), which the generator cannot
            # call; drf-spectacular reads the model (for filter parameters) from `queryset`.
            model = getattr(getattr(self.view.serializer_class, "Meta", None), "model", None)
            if model is not None:
                self.view.queryset = model._default_manager.none()
        return super().get_operation(path, path_regex, path_prefix, method, registry)

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, InputSerializer):
            schema["additionalProperties"] = False  # an unknown field is refused (common.api)
        return schema

    def _is_list_view(self, serializer=None) -> bool:
        return self._is_plain_collection_get() or super()._is_list_view(serializer)

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        if self._is_plain_collection_get() and operation_id.endswith("_retrieve"):
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id


#: The one error envelope (common.errors): every 4xx/5xx answer of /api/ has this shape.
ERROR_ENVELOPE = {
    "type": "object",
    "required": ["code", "detail", "errors"],
    "properties": {
        "code": {"type": "string", "description": "A stable machine code, e.g. not_found."},
        "detail": {"type": "string", "description": "A sentence saying what was wrong."},
        "errors": {
            "type": "object",
            "description": "Field errors keyed by field name.",
            "additionalProperties": True,
        },
    },
}

#: Path parameter examples naming objects of the demo data (`manage.py load_demo`), so the
#: docs show a call that works and a fuzzer's example phase reaches real objects.
PATH_EXAMPLES = {
    "name": "credit-default-logreg",
    "model_name": "credit-default-logreg",
    "dataset_name": "credit-applications",
    "version": 1,
    "id": 1,
    "tier": 1,
    "number": 1,
    "key": "purpose_and_use",
    "position": 1,
    "attachment_id": 1,
    "condition_id": 1,
}


def document_errors_and_examples(result, generator, request, public):
    """Postprocessing hook: every operation documents the error envelope (as its `default`
    response: any error status has that body), and path parameters carry an example."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_ENVELOPE
    ref = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation["responses"].setdefault(
                "default",
                {"description": "An error, as the JSON envelope.",
                 "content": {"application/json": {"schema": ref}}},
            )
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter["name"] in PATH_EXAMPLES:
                    value = PATH_EXAMPLES[parameter["name"]]
                    if parameter.get("schema", {}).get("type") == "string":
                        value = str(value)
                    parameter.setdefault("example", value)
    return result
