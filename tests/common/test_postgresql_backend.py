"""Gatehouse's PostgreSQL backend (common/db/postgresql): the health check that costs no round
trip on a live connection and still replaces a dropped one, and the prepared hot statements."""

from __future__ import annotations

import select
import tempfile
import time

import psycopg
import pytest
from django.db import connection
from django.test import override_settings

from registry.models import ModelVersion
from tests import factories

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the backend is PostgreSQL's"),
]

BODY = {"artifact_uri": "s3://models/credit/model.onnx", "artifact_sha256": "ab" * 32}


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _other_connection():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


@pytest.fixture(autouse=True)
def persistent_checked_connection():
    """Production's connection settings (persistent, health-checked) on a fresh connection;
    the test settings back afterwards."""
    saved = {k: connection.settings_dict[k] for k in ("CONN_HEALTH_CHECKS", "CONN_MAX_AGE")}
    connection.close()
    connection.settings_dict.update(CONN_HEALTH_CHECKS=True, CONN_MAX_AGE=60)
    yield
    connection.close()
    connection.settings_dict.update(saved)


def _next_request() -> None:
    """What Django does between two requests on a persistent connection."""
    connection.close_if_unusable_or_obsolete()


def _wait_readable(timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([connection.connection.fileno()], [], [], 0.05)[0]:
            return
    raise AssertionError("the server never said anything on the connection")


def test_a_connection_the_server_terminated_is_replaced_before_the_next_request_uses_it(
        client_for, personas):
    factories.model(personas["engineer"], name="credit-default")
    client = client_for("engineer")
    assert client.get("/api/v1/models/credit-default/").status_code == 200
    old_pid = _backend_pid()
    with _other_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    _wait_readable()
    _next_request()
    response = client.post("/api/v1/models/credit-default/versions/", BODY, format="json")
    assert response.status_code == 201, response.content
    assert _backend_pid() != old_pid
    assert ModelVersion.objects.filter(model__name="credit-default").count() == 1


def _traced(action) -> str:
    """The libpq protocol trace of what `action` sent to and got from the server."""
    with tempfile.TemporaryFile("w+") as trace:
        connection.connection.pgconn.trace(trace.fileno())
        try:
            action()
        finally:
            connection.connection.pgconn.untrace()
        trace.seek(0)
        return trace.read()


def test_the_health_check_of_a_live_idle_connection_sends_nothing():
    connection.ensure_connection()
    _next_request()
    assert _traced(connection.close_if_health_check_failed) == ""
    assert connection.health_check_done and connection.connection is not None


def test_a_connection_with_something_to_read_gets_the_full_check_and_is_kept():
    with connection.cursor() as cursor:
        cursor.execute("LISTEN gatehouse_backend_test")
    pid = _backend_pid()
    with _other_connection() as other:
        other.execute("NOTIFY gatehouse_backend_test")
    _wait_readable()
    _next_request()
    sent = _traced(connection.close_if_health_check_failed)
    assert "SELECT 1" in sent  # the socket was not quiet: Django's own check ran
    assert _backend_pid() == pid  # and found the connection alive
    with connection.cursor() as cursor:
        cursor.execute("UNLISTEN *")


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_pipelines_token_lookup_and_registration_are_prepared_once_per_connection(
        client_for, personas):
    factories.model(personas["engineer"], name="credit-default")
    client = client_for("engineer")
    for _ in range(3):
        response = client.post("/api/v1/models/credit-default/versions/", BODY, format="json")
        assert response.status_code == 201, response.content
    prepared = _prepared()
    assert sum("governance_apitoken" in s for s in prepared) == 1
    assert sum(s.lstrip().startswith("WITH m AS (UPDATE") for s in prepared) == 1
    assert list(ModelVersion.objects.filter(model__name="credit-default")
                .order_by("version").values_list("version", flat=True)) == [1, 2, 3]


def test_prepared_statements_can_be_turned_off_for_a_pooler(client_for, personas):
    factories.model(personas["engineer"], name="credit-default")
    client = client_for("engineer")
    connection.close()
    with override_settings(DB_PREPARED_STATEMENTS=False):
        response = client.post("/api/v1/models/credit-default/versions/", BODY, format="json")
        assert response.status_code == 201, response.content
        assert _prepared() == []
    connection.close()


def test_a_revoked_token_is_refused_on_a_connection_that_prepared_its_lookup(client_for, personas):
    from governance.models import ApiToken

    factories.model(personas["engineer"], name="credit-default")
    client = client_for("engineer")
    assert client.get("/api/v1/models/credit-default/").status_code == 200
    assert client.get("/api/v1/models/credit-default/").status_code == 200
    ApiToken.objects.filter(user=personas["engineer"]).update(revoked_at="2026-01-01T00:00:00Z")
    assert client.get("/api/v1/models/credit-default/").status_code in (401, 403)

