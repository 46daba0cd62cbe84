"""/api/docs/ works without internet: Swagger UI's files come from this server (issue 17)."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from django.test import Client

_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def _asset_urls(html: str) -> list[str]:
    return _ASSET.findall(html)


def test_api_docs_page_references_only_assets_this_server_serves(db):
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    urls = _asset_urls(html)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls), urls
    for url in urls:
        # A local path, never a scheme or a protocol-relative URL (a CDN).
        assert url.startswith("/") and not url.startswith("//"), f"external asset: {url}"
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), f"missing static file: {url}"


def test_api_docs_start_up_script_is_served_not_inlined(db):
    """The page's own script is a URL on this server (so a strict CSP needs no 'unsafe-inline')."""
    html = Client().get("/api/docs/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> on /api/docs/"
    script_url = next(u for u in _asset_urls(html) if u.startswith("/api/docs/"))
    script = Client().get(script_url)
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
