"""Issue 18 item 1: the record cannot be wiped or rewritten by the application's own database
role, and TRUNCATE is refused by trigger even for the tables' owner. PostgreSQL only (roles and
TRUNCATE are PostgreSQL's); the roles are created inside the test's transaction."""

from __future__ import annotations

import io
import os

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from governance import audit
from governance.auditlog.sealer import seal
from governance.models import AuditEvent

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="database roles and TRUNCATE are PostgreSQL's")

APPEND_ONLY = ("governance_auditevent", "governance_auditcheckpoint",
               "governance_audittreetile", "approvals_decision", "approvals_releaseattestation")


@pytest.fixture
def roles(db):
    suffix = os.getpid()
    owner, app = f"gh_test_owner_{suffix}", f"gh_test_app_{suffix}"
    with connection.cursor() as cur:  # ALTER TABLE refuses while deferred FK checks are pending
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("db_roles", owner=owner, app=app, apply=True, stdout=io.StringIO())
    return owner, app


def _refused(sql: str, match: str) -> None:
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(sql)


def test_the_application_role_works_but_cannot_wipe_or_rewrite_the_record(personas, roles):
    owner, app = roles
    with connection.cursor() as cur:
        cur.execute(f"SET ROLE {app}")
    try:
        with transaction.atomic():  # ordinary work: append, seal, change a mutable row
            event = audit.record(action="governance.team.created", object_type="test.role")
            with connection.cursor() as cur:
                cur.execute("UPDATE governance_team SET title = 'x' WHERE id = "
                            "(SELECT MIN(id) FROM governance_team)")
        assert seal().checkpoint.tree_size >= event.seq
        for table in (*APPEND_ONLY, "explainability_job"):
            _refused(f"TRUNCATE {table} CASCADE", "permission denied")
        for table in APPEND_ONLY:
            _refused(f"UPDATE {table} SET id = id", "permission denied")
            _refused(f"DELETE FROM {table}", "permission denied")
        _refused("DELETE FROM explainability_job", "permission denied")
        _refused("ALTER TABLE governance_auditevent DISABLE TRIGGER USER", "must be owner")
    finally:
        with connection.cursor() as cur:
            cur.execute("RESET ROLE")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_truncate_is_refused_by_trigger_even_for_the_owner(personas, roles):
    owner, _ = roles
    seal()
    with connection.cursor() as cur:
        cur.execute(f"SET ROLE {owner}")
    try:
        for table in (*APPEND_ONLY, "explainability_job"):
            _refused(f"TRUNCATE {table} CASCADE", "append-only table")
    finally:
        with connection.cursor() as cur:
            cur.execute("RESET ROLE")
    assert AuditEvent.objects.exists()


def test_the_command_prints_the_sql_and_refuses_odd_names(db):
    from django.core.management.base import CommandError

    out = io.StringIO()
    call_command("db_roles", stdout=out)
    sql = out.getvalue()
    assert "REVOKE UPDATE, DELETE ON public.\"governance_auditevent\" FROM gatehouse_app;" in sql
    assert "ALTER TABLE public.\"governance_auditevent\" OWNER TO gatehouse_owner;" in sql
    with pytest.raises(CommandError, match="plain PostgreSQL identifier"):
        call_command("db_roles", app="x; DROP TABLE y", stdout=io.StringIO())
