"""The audit event migration 0010 did not write: where 0010 published tier 1's next policy
version (asking for performance evidence), record it as `governance.policy.published`, as
`tier_policy_publish` does for a policy an admin publishes. Every state change has its event;
this one was missing from the log of installations that ran 0010.

The event is appended now (its timestamp is when this migration ran; the payload names the
migration and when the version was created), at the next position of the audit log like any
other event, so the sealer seals it and verification covers it. The INSERT is written out here
with the columns as they are at this migration (a later change of the audit table must not
change what this migration does); the canonical body is the log's permanent format
(`governance.audit.body_parts`, the same the verifier recomputes). Running it twice writes
nothing more: an event already naming the policy version is left alone.
"""

import json

from django.db import migrations
from django.utils import timezone

from governance.audit import body_parts, format_timestamp

NOTE_PREFIX = "Tier 1 production requires performance evidence: "
MIGRATION = "governance.0010_tier1_performance_evidence"
COLUMNS = (
    "timestamp", "actor_id", "actor_name", "actor_roles", "action", "object_type", "object_id",
    "object_repr", "model_name", "payload", "request_id", "client_ip",
)


def forwards(apps, schema_editor):
    TierPolicy = apps.get_model("governance", "TierPolicy")
    AuditEvent = apps.get_model("governance", "AuditEvent")
    connection = schema_editor.connection
    for policy in TierPolicy.objects.filter(tier=1, notes__startswith=NOTE_PREFIX).order_by("version"):
        recorded = AuditEvent.objects.filter(
            action="governance.policy.published", object_type="governance.tierpolicy",
            object_id=str(policy.pk),
        ).exists()
        if recorded:
            continue
        previous = TierPolicy.objects.filter(tier=1, version__lt=policy.version).order_by(
            "-version").first()
        state = "" if policy.is_active else " (superseded)"
        fields = {
            "timestamp": timezone.now(), "actor_id": None, "actor_name": "system",
            "actor_roles": [], "action": "governance.policy.published",
            "object_type": "governance.tierpolicy", "object_id": str(policy.pk),
            "object_repr": f"Tier 1 policy v{policy.version}{state}", "model_name": "",
            "payload": json.loads(json.dumps({
                "tier": 1, "notes": policy.notes, "source": f"migration {MIGRATION}",
                "published_at": format_timestamp(policy.created_at),
                "before": ({"version": previous.version, "rules": previous.rules}
                           if previous else None),
                "after": {"version": policy.version, "rules": policy.rules},
            }, default=str)),
            "request_id": "", "client_ip": "",
        }
        _append(connection, fields)


def _append(connection, fields) -> None:
    head, tail = body_parts({**fields, "timestamp": format_timestamp(fields["timestamp"])})
    postgres = connection.vendor == "postgresql"
    json_param = "%s::jsonb" if postgres else "%s"
    position = ("SELECT nextval('governance_audit_position') AS n" if postgres
                else "SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM governance_auditevent")
    values = ", ".join(json_param if c in ("actor_roles", "payload") else "%s" for c in COLUMNS)
    params = [head, tail] + [
        json.dumps(fields[c]) if c in ("actor_roles", "payload") else fields[c] for c in COLUMNS
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO governance_auditevent (seq, body, {', '.join(COLUMNS)}, prev_hash, hash) "
            f"SELECT p.n, %s || p.n || %s, {values}, '', NULL FROM ({position}) p",
            params,
        )


class Migration(migrations.Migration):
    dependencies = [("governance", "0010_tier1_performance_evidence")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
