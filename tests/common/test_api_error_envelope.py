"""Every /api/ error is the JSON envelope, whatever the path (issue 18 item 9): routes that do
not match (a negative version), an oversized body (413, not an HTML 400), unhandled errors."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import path

from tests import factories


def _assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code and body["detail"] and "errors" in body
    return body


@pytest.mark.parametrize("url", [
    "/api/v1/models/credit-default/versions/-1/",
    "/api/v1/models/credit-default/versions/one/",
    "/api/v1/no-such-resource/",
    "/api/v2/models/",
    "/api/",
])
def test_an_api_path_that_matches_no_route_is_a_json_404(client_for, personas, url):
    factories.model(personas["engineer"])
    body = _assert_envelope(client_for("engineer").get(url), 404, "not_found")
    assert url in body["detail"]


def test_the_portal_keeps_its_html_404(client_for, personas):
    client = Client()
    client.force_login(personas["engineer"])
    response = client.get("/models/no-such-model/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_oversized_json_body_is_a_json_413(client_for, personas, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = json.dumps({"name": "m", "team": "credit", "description": "x" * (100 * 1024)})
    response = client_for("engineer").generic(
        "POST", "/api/v1/models/", body, content_type="application/json"
    )
    out = _assert_envelope(response, 413, "too_large")
    assert str(64 * 1024) in out["detail"]


def test_an_oversized_form_body_is_a_json_413(client_for, personas, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    response = client_for("engineer").post(
        "/api/v1/models/", {"name": "m", "team": "credit", "description": "x" * (100 * 1024)},
        format="multipart",
    )
    _assert_envelope(response, 413, "too_large")


def _boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("api/v1/boom/", _boom), path("boom/", _boom)]


def test_an_unhandled_error_under_api_is_a_json_500(settings):
    from config import urls

    settings.ROOT_URLCONF = __name__
    for name in ("handler400", "handler403", "handler404", "handler500"):
        globals()[name] = getattr(urls, name)
    client = Client(raise_request_exception=False)
    body = _assert_envelope(client.get("/api/v1/boom/"), 500, "server_error")
    assert "a bug" not in body["detail"]  # no internals; the log has them
    assert client.get("/boom/")["Content-Type"].startswith("text/html")
