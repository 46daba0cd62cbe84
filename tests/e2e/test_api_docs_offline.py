"""The API docs render in a browser that cannot reach anything but this server (issue 17)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_api_docs_render_with_no_internet(portal, personas):
    page, local = portal.page, urlsplit(portal.url).netloc
    refused: list[str] = []

    def only_this_server(route):
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    portal.context.route("**/*", only_this_server)
    portal.sign_in("engineer")
    page.goto("/api/docs/")
    # Swagger UI has fetched and parsed the schema (the title and the version come from it) and
    # drawn operations from it.
    page.wait_for_selector(".swagger-ui .info .title:has-text('1.0.0')")
    page.wait_for_selector(".opblock-summary-path")
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Gatehouse API")
    assert refused == []
