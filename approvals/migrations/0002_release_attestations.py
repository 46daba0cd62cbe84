"""Release attestations, and the database refusing changes to approvals' history: decisions and
attestations are append-only (UPDATE, DELETE and TRUNCATE refused by trigger, issue 18)."""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models


TABLES = ("approvals_decision", "approvals_releaseattestation")


def _triggers(schema_editor, *, up: bool) -> None:
    helpers = import_module("governance.migrations.0007_audit_merkle_log")
    conn = schema_editor.connection
    with conn.cursor() as cur:
        for table in TABLES:
            if conn.vendor == "postgresql":
                if up:
                    cur.execute(helpers.pg_append_only(table))
                else:
                    cur.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table};"
                                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};")
            elif up:
                for statement in helpers.sqlite_append_only(table):
                    cur.execute(statement)
            else:
                cur.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
                cur.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")



def forwards(apps, schema_editor):
    _triggers(schema_editor, up=True)


def backwards(apps, schema_editor):
    _triggers(schema_editor, up=False)


class Migration(migrations.Migration):

    dependencies = [
        ('approvals', '0001_initial'),
        ('governance', '0007_audit_merkle_log'),
        ('registry', '0005_artifact_format_xgboost'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReleaseAttestation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('target_stage', models.CharField(choices=[('staging', 'Staging'), ('production', 'Production')], max_length=20)),
                ('subject_sha256', models.CharField(max_length=64)),
                ('envelope', models.JSONField()),
                ('payload_sha256', models.CharField(max_length=64)),
                ('audit_position', models.BigIntegerField()),
                ('created_at', models.DateTimeField()),
                ('request', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='attestations', to='approvals.promotionrequest')),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='attestations', to='registry.modelversion')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
