"""Least-privilege PostgreSQL roles: a migration role owns the tables, the application role
only reads and writes rows, and cannot change or empty the append-only record.

The database triggers already refuse UPDATE, DELETE and TRUNCATE on append-only tables, but a
table's owner can switch its triggers off; so the application must not own them. After this,
the application role has SELECT/INSERT everywhere, UPDATE/DELETE only where rows may change,
TRUNCATE nowhere, and no DDL. Run it as a superuser (or the database owner) after every
`migrate` (new tables get the default privileges, which include UPDATE/DELETE, until then).
"""

from __future__ import annotations

import re

#: Rows are written once and never changed or removed (each also has triggers).
APPEND_ONLY_TABLES = (
    "governance_auditevent", "governance_auditcheckpoint", "governance_audittreetile",
    "approvals_decision", "approvals_releaseattestation",
)
#: Rows change while in progress but are never removed (explainability results).
NO_DELETE_TABLES = ("explainability_job",)

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _check(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{what} {name!r} is not a plain PostgreSQL identifier (a-z, 0-9, _).")
    return name


def role_sql(*, owner: str, app: str, database: str, schema: str = "public",
             tables: list[str], functions: list[str]) -> list[str]:
    """The statements, in order. `tables` / `functions`: what exists now in `schema`."""
    owner, app, schema = _check(owner, "owner role"), _check(app, "app role"), _check(schema, "schema")
    out = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{r}') THEN "
        f"CREATE ROLE {r} LOGIN; END IF; END $$" for r in (owner, app)
    ]
    out += [
        f'GRANT CONNECT ON DATABASE "{database}" TO {owner}, {app}',
        f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {owner}",
        f"GRANT USAGE ON SCHEMA {schema} TO {app}",
        f"REVOKE CREATE ON SCHEMA {schema} FROM {app}",
    ]
    out += [f'ALTER TABLE {schema}."{t}" OWNER TO {owner}' for t in tables]
    out += [f"ALTER FUNCTION {schema}.{f}() OWNER TO {owner}" for f in functions]
    out += [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {app}",
    ]
    existing = set(tables)
    out += [f'REVOKE UPDATE, DELETE ON {schema}."{t}" FROM {app}'
            for t in APPEND_ONLY_TABLES if t in existing]
    out += [f'REVOKE DELETE ON {schema}."{t}" FROM {app}'
            for t in NO_DELETE_TABLES if t in existing]
    return out


def current_objects(cursor, schema: str = "public") -> tuple[list[str], list[str]]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
                   [schema])
    tables = [r[0] for r in cursor.fetchall()]
    cursor.execute(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = %s AND p.prorettype = 'trigger'::regtype ORDER BY p.proname",
        [schema])
    return tables, [r[0] for r in cursor.fetchall()]
