"""The OpenAPI schema describes what the API answers (issue 18 item 5)."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import call_command
from django.urls import resolve


@pytest.fixture(scope="module")
def schema() -> dict:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def _ok(schema: dict, path: str, method: str = "get") -> dict:
    return schema["paths"][path][method]["responses"]["200"]["content"]


def _resolve(schema: dict, ref_or_schema: dict) -> dict:
    ref = ref_or_schema.get("$ref")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


@pytest.mark.parametrize("path", [
    "/api/v1/audit-events/",
    "/api/v1/findings/",
    "/api/v1/models/{name}/risk-assessments/",
    "/api/v1/policies/",
])
def test_lists_are_documented_as_pages_of_rows_with_their_own_operation_id(schema, path):
    operation = schema["paths"][path]["get"]
    assert operation["operationId"].endswith("_list")
    body = _resolve(schema, _ok(schema, path)["application/json"]["schema"])
    assert body["properties"]["results"]["type"] == "array"
    assert {"count", "next", "previous"} <= set(body["properties"])
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()
           if isinstance(op, dict) and "operationId" in op]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", [
    "/api/v1/reviews/overdue/", "/api/v1/models/{name}/versions/{version}/coverage/",
])
def test_endpoints_answering_arrays_are_documented_as_arrays(schema, path):
    body = _ok(schema, path)["application/json"]["schema"]
    assert body["type"] == "array"
    assert _resolve(schema, body["items"])["type"] == "object"


@pytest.mark.parametrize("path", [
    "/api/v1/documents/{id}/export/",
    "/api/v1/models/{name}/versions/{version}/documentation-pack/",
])
def test_exports_document_json_as_an_object_and_the_pack_as_html_or_pdf(schema, path):
    content = _ok(schema, path)
    assert content["application/json"]["schema"]["type"] == "object"
    assert content["application/pdf"]["schema"]["format"] == "binary"
    assert content["text/html"]["schema"]["type"] == "string"


def test_every_advertised_method_is_one_the_route_answers(schema):
    """No route is advertised with a method its view does not handle (as the MLflow routes
    were: GET/POST/PATCH/DELETE on each, most answering ENDPOINT_NOT_FOUND)."""
    wrong = []
    for path, operations in schema["paths"].items():
        url = path
        for name in [p for p in path.split("/") if p.startswith("{")]:
            url = url.replace(name, "1")
        match = resolve(url)
        view = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
        actions = getattr(match.func, "actions", None)
        for method in operations:
            if method in ("parameters", "summary", "description"):
                continue
            handles = method in actions if actions else hasattr(view, method)
            if not handles:
                wrong.append(f"{method.upper()} {path}")
    assert wrong == []


def test_every_operation_documents_the_error_envelope(schema):
    envelope = schema["components"]["schemas"]["Error"]
    assert envelope["required"] == ["code", "detail", "errors"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                default = operation["responses"]["default"]["content"]["application/json"]
                assert default["schema"] == {"$ref": "#/components/schemas/Error"}, (method, path)


def test_request_bodies_say_unknown_fields_are_refused(schema):
    body = schema["paths"]["/api/v1/models/{model_name}/versions/"]["post"]["requestBody"]
    for media in ("application/json", "multipart/form-data"):
        component = _resolve(schema, body["content"][media]["schema"])
        assert component["additionalProperties"] is False
        assert "training_datasets" in component["properties"]


def test_path_parameters_carry_examples_naming_demo_objects(schema):
    parameters = schema["paths"]["/api/v1/models/{name}/"]["get"]["parameters"]
    name = next(p for p in parameters if p["name"] == "name")
    assert name["example"] == "credit-default-logreg"


def test_query_parameters_say_what_the_endpoint_accepts(schema):
    """What the lineage endpoint refuses (no node, depth 0) is refused by the schema too."""
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/lineage/"]["get"]["parameters"]}
    assert parameters["node"]["required"] is True
    assert parameters["node"]["schema"]["pattern"].startswith("^(model|dataset):")
    assert parameters["depth"]["schema"]["minimum"] == 1
    page_size = next(
        p for p in schema["paths"]["/api/v1/models/"]["get"]["parameters"] if p["name"] == "page_size"
    )
    assert (page_size["schema"]["minimum"], page_size["schema"]["maximum"]) == (1, 200)


def test_a_page_size_that_is_not_a_positive_integer_is_refused(client_for, personas):
    client = client_for("engineer")
    for bad in ("null", "0", "-3", "ten"):
        response = client.get(f"/api/v1/models/?page_size={bad}")
        assert response.status_code == 400, (bad, response.content)
        assert "page_size" in response.json()["errors"]
    assert client.get("/api/v1/models/?page_size=7").status_code == 200
