"""The same contract checks for every API resource (NetBox-style generic API tests)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from governance.models import AuditEvent


def assert_anonymous_401(url: str, method: str = "get", data=None) -> None:
    response = getattr(APIClient(), method)(url, data or {}, format="json")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "not_authenticated"


def assert_auditor_403(client: APIClient, url: str, method: str = "post", data=None) -> None:
    before = AuditEvent.objects.count()
    response = getattr(client, method)(url, data or {}, format="json")
    assert response.status_code == 403, response.content
    assert "Auditors have read-only access" in response.json()["detail"]
    assert AuditEvent.objects.count() == before


def assert_outsider_404(client: APIClient, url: str, method: str = "get", data=None) -> None:
    """Someone who may not see the object learns nothing about it: 404, the same envelope as
    for an object that does not exist, and nothing written."""
    before = AuditEvent.objects.count()
    response = getattr(client, method)(url, data or {}, format="json")
    assert response.status_code == 404, (url, response.status_code, response.content[:300])
    assert response.json()["code"] == "not_found"
    assert AuditEvent.objects.count() == before


def assert_creates_one_audit_event(client, url, data, action: str, fmt: str = "json"):
    before = AuditEvent.objects.count()
    response = client.post(url, data, format=fmt)
    assert response.status_code == 201, response.content
    events = list(AuditEvent.objects.filter(seq__gt=before))
    assert [e.action for e in events] == [action]
    return response, events[0]


def list_query_count(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def assert_list_queries_bounded(client: APIClient, url: str, grow) -> None:
    """The query count of a list page does not depend on how many rows it shows."""
    sep = "&" if "?" in url else "?"
    list_query_count(client, url + sep + "page_size=2")  # warm-up: token last-used stamp
    small = list_query_count(client, url + sep + "page_size=2")
    grow()
    large = list_query_count(client, url + sep + "page_size=200")
    assert large == small, f"{large} queries for a big page vs {small} for a small one"
