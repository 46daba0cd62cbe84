"""Shared fixtures: named personas and an API client per persona."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from governance import services as gov
from governance.choices import Role
from tests.oidc_provider.fixtures import oidc_provider, sso  # noqa: F401 - the test OIDC provider

PERSONAS = {
    "engineer": ([Role.ENGINEER], ["credit"]),
    "engineer2": ([Role.ENGINEER], ["credit"]),
    "other_engineer": ([Role.ENGINEER], ["fraud"]),
    "owner": ([Role.MODEL_OWNER, Role.ENGINEER], ["credit"]),
    "validator": ([Role.VALIDATOR], ["risk"]),
    "validator2": ([Role.VALIDATOR], ["risk"]),
    "compliance": ([Role.COMPLIANCE], ["compliance"]),
    "business": ([Role.BUSINESS_APPROVER], ["credit"]),
    "auditor": ([Role.AUDITOR], []),
    "admin_user": ([Role.ADMIN], []),
}


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _isolated_artifact_root(settings, tmp_path):
    """Each test stores artifacts in its own folder."""
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.JOB_OUTPUT_ROOT = tmp_path / "job-output"


@pytest.fixture(autouse=True)
def _no_cached_webhook_endpoints():
    """A test's endpoints are rolled back with it: none is remembered into the next test."""
    from approvals import webhooks

    webhooks.forget_endpoints()
    yield
    webhooks.forget_endpoints()


def make_persona(name: str):
    roles, teams = PERSONAS[name]
    return gov.user_create(
        username=name, roles=list(roles), teams=teams, password="pw-" + name,
        email=f"{name}@example.com",
    )


@pytest.fixture
def personas(db):
    return {name: make_persona(name) for name in PERSONAS}


@pytest.fixture
def client_for(personas):
    """client_for("engineer") → an APIClient authenticated with a real API token."""

    def _client(name: str) -> APIClient:
        _, key = gov.token_create(user=personas[name])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return _client


_saved_triggers: list[str] = []  # SQLite: append-only triggers dropped for a flush


def _append_only_triggers_off_for_flush() -> None:
    """Django flushes a transactional test's tables with DELETE (SQLite) or TRUNCATE
    (PostgreSQL), which the append-only triggers refuse. Switch them off just for that flush,
    as the tables' owner; the next test starts with them back on."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND "
                        "(name LIKE '%\\_no\\_update' ESCAPE '\\' "
                        "OR name LIKE '%\\_no\\_delete' ESCAPE '\\')")
            for name, sql in cur.fetchall():
                _saved_triggers.append(sql)
                cur.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            for table, name in _pg_truncate_triggers(cur):
                cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")


def _pg_truncate_triggers(cur) -> list[tuple[str, str]]:
    cur.execute("SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                "WHERE NOT tgisinternal AND tgname LIKE '%\\_no\\_truncate'")
    return cur.fetchall()


def _append_only_triggers_on() -> None:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            while _saved_triggers:
                cur.execute(_saved_triggers.pop().replace(
                    "CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1))
        else:
            cur.execute("SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                        "WHERE NOT tgisinternal AND tgenabled = 'D'")
            for table, name in cur.fetchall():
                cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
            # Positions taken by earlier tests' rolled-back transactions are not given back
            # by the sequence: start each test where a fresh database would.
            cur.execute("SELECT setval('governance_audit_position', "
                        "COALESCE((SELECT MAX(seq) FROM governance_auditevent), 0) + 1, false)")


@pytest.fixture(autouse=True)
def _transactional_test_setup(request, django_db_setup, django_db_blocker):
    """Transactional tests (real workers, live servers, threads) commit for real and are flushed
    at the end. Each starts with the seeded governance defaults back in place, whatever flushed
    before it, and with the append-only triggers on (see _append_only_triggers_off_for_flush)."""
    marker = request.node.get_closest_marker("django_db")
    # A session of tests that use no database has none set up (pytest-django skips it).
    uses_db = marker is not None or bool(
        {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    )
    if uses_db:
        with django_db_blocker.unblock():
            _append_only_triggers_on()
    transactional = bool({"transactional_db", "live_server"} & set(request.fixturenames)) or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    if transactional:
        request.getfixturevalue("transactional_db")
        with django_db_blocker.unblock():
            _reseed_governance_defaults()
            _reseed_incident_clocks()
    yield
    if transactional:
        with django_db_blocker.unblock():
            _append_only_triggers_off_for_flush()


def _reseed_governance_defaults() -> None:
    """A flush by an earlier transactional test removes what the data migrations seeded (tier
    policies, documentation templates); put it back the way the migrations do (idempotent)."""
    from importlib import import_module

    from django.apps import apps

    from governance.models import TierPolicy

    if TierPolicy.objects.exists():
        return
    for name, fn in [("0004_seed_policies_and_templates", "seed"),
                     ("0005_fix_annex_iv_policy_sections", "forwards"),
                     ("0006_sr11_7_vendor_sections", "forwards")]:
        getattr(import_module(f"governance.migrations.{name}"), fn)(apps, None)


def _reseed_incident_clocks() -> None:
    """The statutory incident clocks oversight's data migration seeds (idempotent)."""
    from importlib import import_module

    from django.apps import apps

    from oversight.models import IncidentClock

    if not IncidentClock.objects.exists():
        import_module("oversight.migrations.0004_incident_clocks").seed(apps, None)
