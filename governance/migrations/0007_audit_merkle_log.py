"""The Merkle audit log: events get their position from a sequence and carry their canonical JSON
(`body`); the chain-head row (which serialised every writer) goes; checkpoints and stored subtree
hashes are new append-only tables; every append-only governance table refuses TRUNCATE.

Existing events keep their positions (their `seq`, contiguous from 1 because the head row
serialised them) and their old chain hashes as history; their `body` is filled from their
columns here, with the append-only trigger switched off for this one statement by the table
owner (the only time an event row is ever written twice). The first seal then puts them all in
the tree.
"""

import datetime as dt
import json

from django.db import migrations, models

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION gatehouse_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


def pg_append_only(table: str, *, rows: bool = True) -> str:
    """Row triggers refuse UPDATE and DELETE; a statement trigger refuses TRUNCATE, which row
    triggers never see (issue 18)."""
    sql = ""
    if rows:
        sql += f"""CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION gatehouse_append_only();\n"""
    return sql + f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_append_only();\n"""


def sqlite_append_only(table: str) -> list[str]:
    """SQLite has no TRUNCATE (its DELETE without WHERE fires the row trigger)."""
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table}
           BEGIN SELECT RAISE(ABORT, 'append-only table {table}: UPDATE refused'); END;""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}
           BEGIN SELECT RAISE(ABORT, 'append-only table {table}: DELETE refused'); END;""",
    ]


NEW_TABLES = ("governance_auditcheckpoint", "governance_audittreetile")

PG_UP = (
    """
CREATE SEQUENCE governance_audit_position OWNED BY governance_auditevent.seq;
SELECT setval('governance_audit_position',
              COALESCE((SELECT MAX(seq) FROM governance_auditevent), 0) + 1, false);
ALTER TABLE governance_auditevent ALTER COLUMN seq SET DEFAULT nextval('governance_audit_position');
"""
    + APPEND_ONLY_FUNCTION
    + pg_append_only("governance_auditevent", rows=False)  # rows: governance_audit_append_only
    + "".join(pg_append_only(t) for t in NEW_TABLES)
)
PG_DOWN = (
    "".join(f"DROP TRIGGER IF EXISTS {t}_no_change ON {t};" for t in NEW_TABLES)
    + "".join(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t};"
              for t in (*NEW_TABLES, "governance_auditevent"))
    + "ALTER TABLE governance_auditevent ALTER COLUMN seq DROP DEFAULT;"
    + "DROP SEQUENCE IF EXISTS governance_audit_position;"
)


def _body(e) -> str:
    """The canonical JSON of an event (frozen copy of governance.audit.event_body)."""
    return json.dumps({
        "action": e.action, "actor_id": e.actor_id, "actor_name": e.actor_name,
        "actor_roles": list(e.actor_roles), "client_ip": e.client_ip, "model_name": e.model_name,
        "object_id": e.object_id, "object_repr": e.object_repr, "object_type": e.object_type,
        "payload": e.payload, "request_id": e.request_id, "seq": e.seq,
        "timestamp": e.timestamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _fill_bodies(apps, cursor) -> None:
    AuditEvent = apps.get_model("governance", "AuditEvent")
    rows = [(_body(e), e.pk) for e in AuditEvent.objects.filter(body="").iterator()]
    cursor.executemany("UPDATE governance_auditevent SET body = %s WHERE id = %s", rows)


def forwards(apps, schema_editor):
    from importlib import import_module

    conn = schema_editor.connection
    with conn.cursor() as cur:
        if conn.vendor == "postgresql":
            cur.execute(PG_UP)
            cur.execute("ALTER TABLE governance_auditevent "
                        "DISABLE TRIGGER governance_auditevent_append_only")
            _fill_bodies(apps, cur)
            cur.execute("ALTER TABLE governance_auditevent "
                        "ENABLE TRIGGER governance_auditevent_append_only")
        elif conn.vendor == "sqlite":
            # Adding the column rebuilt the table, which dropped its triggers: put them back.
            cur.execute("DROP TRIGGER IF EXISTS governance_auditevent_no_update")
            _fill_bodies(apps, cur)
            old = import_module("governance.migrations.0002_audit_append_only").SQLITE_UP
            for statement in old:
                cur.execute(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS"))
            for table in NEW_TABLES:
                for statement in sqlite_append_only(table):
                    cur.execute(statement)
        else:
            raise RuntimeError(f"No append-only triggers for database vendor {conn.vendor!r}.")


def backwards(apps, schema_editor):
    conn = schema_editor.connection
    with conn.cursor() as cur:
        if conn.vendor == "postgresql":
            cur.execute(PG_DOWN)
        else:
            for table in NEW_TABLES:
                cur.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
                cur.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


class Migration(migrations.Migration):

    dependencies = [
        ('governance', '0006_sr11_7_vendor_sections'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField(unique=True)),
                ('tree_size', models.BigIntegerField(unique=True)),
                ('root_hash', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField()),
                ('key_id', models.CharField(max_length=64)),
                ('signature', models.CharField(help_text='Base64 Ed25519 signature.', max_length=100)),
                ('aborted', models.PositiveIntegerField(default=0, help_text='Positions this seal recorded as aborted (rolled-back holes).')),
            ],
            options={
                'ordering': ['number'],
            },
        ),
        migrations.CreateModel(
            name='AuditTreeTile',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('height', models.PositiveSmallIntegerField()),
                ('start', models.BigIntegerField()),
                ('hashes', models.BinaryField()),
            ],
        ),
        migrations.DeleteModel(
            name='AuditChainHead',
        ),
        migrations.AddField(
            model_name='auditevent',
            name='body',
            field=models.TextField(default='', editable=False, help_text='Canonical JSON hashed into the log.'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='prev_hash',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='seq',
            field=models.BigIntegerField(help_text='Position in the audit log.', unique=True),
        ),
        migrations.AddConstraint(
            model_name='audittreetile',
            constraint=models.UniqueConstraint(fields=('height', 'start'), name='audit_tile_unique'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
