"""Shared fixtures: named personas and an API client per persona."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from governance import services as gov
from governance.choices import Role

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


_SQLITE_AUDIT_TRIGGERS = ("governance_auditevent_no_update", "governance_auditevent_no_delete")


@pytest.fixture(autouse=True)
def _transactional_test_setup(request, django_db_setup, django_db_blocker):
    """Transactional tests (real workers, live servers, threads) commit for real and are flushed
    at the end. Each starts with the seeded governance defaults back in place, whatever flushed
    before it. On SQLite, Django flushes with DELETE, which the audit trigger refuses: every test
    starts with the triggers in place and a transactional test drops them just before its flush
    (PostgreSQL flushes with TRUNCATE, which row triggers don't see)."""
    from importlib import import_module

    marker = request.node.get_closest_marker("django_db")
    # A session of tests that use no database has none set up (pytest-django skips it).
    uses_db = marker is not None or bool(
        {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    )
    sqlite = connection.vendor == "sqlite" and uses_db
    if sqlite:
        migration = import_module("governance.migrations.0002_audit_append_only")
        with django_db_blocker.unblock(), connection.cursor() as cur:
            for statement in migration.SQLITE_UP:
                cur.execute(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS"))
    transactional = bool({"transactional_db", "live_server"} & set(request.fixturenames)) or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    if transactional:
        request.getfixturevalue("transactional_db")
        with django_db_blocker.unblock():
            _reseed_governance_defaults()
    yield
    if transactional and sqlite:
        with django_db_blocker.unblock(), connection.cursor() as cur:
            for name in _SQLITE_AUDIT_TRIGGERS:
                cur.execute(f"DROP TRIGGER IF EXISTS {name}")


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
