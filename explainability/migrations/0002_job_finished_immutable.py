"""The database itself refuses any UPDATE of a finished job (succeeded, failed or cancelled), so a
stored result, its sha256s and its verdict can never change behind the application's back.

On SQLite, a later migration that rebuilds the explainability_job table drops this trigger; such a
migration must re-create it (see SQLITE_UP).
"""

from django.db import migrations

FINISHED = "('succeeded', 'failed', 'cancelled')"

PG_UP = f"""
CREATE OR REPLACE FUNCTION explainability_job_finished_immutable() RETURNS trigger AS $$
BEGIN
    IF OLD.status IN {FINISHED} THEN
        RAISE EXCEPTION 'explainability job % is %: a finished job never changes', OLD.id, OLD.status;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER explainability_job_finished_immutable
    BEFORE UPDATE ON explainability_job
    FOR EACH ROW EXECUTE FUNCTION explainability_job_finished_immutable();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS explainability_job_finished_immutable ON explainability_job;
DROP FUNCTION IF EXISTS explainability_job_finished_immutable();
"""
SQLITE_UP = [
    f"""CREATE TRIGGER explainability_job_finished_immutable BEFORE UPDATE ON explainability_job
       WHEN OLD.status IN {FINISHED}
       BEGIN SELECT RAISE(ABORT, 'explainability job is finished: a finished job never changes'); END;""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS explainability_job_finished_immutable;"]


def _run(schema_editor, pg: str, sqlite: list[str]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(pg, params=None)
    elif vendor == "sqlite":
        for statement in sqlite:
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"No finished-job trigger for database vendor {vendor!r}.")


def forwards(apps, schema_editor):
    _run(schema_editor, PG_UP, SQLITE_UP)


def backwards(apps, schema_editor):
    _run(schema_editor, PG_DOWN, SQLITE_DOWN)


class Migration(migrations.Migration):
    dependencies = [("explainability", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
