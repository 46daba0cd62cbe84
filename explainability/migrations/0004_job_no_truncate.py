"""Jobs hold the evidence results (immutable once finished, migration 0002); row triggers never
see TRUNCATE, so a statement trigger refuses it (issue 18). Running jobs still change, so rows
keep only the finished-job rule."""

from importlib import import_module

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        helpers = import_module("governance.migrations.0007_audit_merkle_log")
        schema_editor.execute(helpers.pg_append_only("explainability_job", rows=False))
    # SQLite has no TRUNCATE.


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS explainability_job_no_truncate ON explainability_job")


class Migration(migrations.Migration):
    dependencies = [
        ("explainability", "0003_job_recovery_sent_at"),
        ("governance", "0007_audit_merkle_log"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
