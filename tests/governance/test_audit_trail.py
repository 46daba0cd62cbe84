"""The audit trail: append-only in the database, tamper-evident, readable and exportable."""

import contextlib
import csv
import io
import json

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from governance import audit
from governance.action_labels import action_label
from governance.models import AuditEvent
from registry import services as registry_services
from tests import factories


@contextlib.contextmanager
def triggers_disabled():
    """Go behind the application's back, as a DBA or an attacker with a shell would."""
    from importlib import import_module

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE governance_auditevent DISABLE TRIGGER governance_auditevent_append_only")
        else:
            cur.execute("DROP TRIGGER governance_auditevent_no_update")
            cur.execute("DROP TRIGGER governance_auditevent_no_delete")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute("ALTER TABLE governance_auditevent ENABLE TRIGGER governance_auditevent_append_only")
            else:
                for statement in import_module("governance.migrations.0002_audit_append_only").SQLITE_UP:
                    cur.execute(statement)


@pytest.mark.parametrize("sql", [
    "UPDATE governance_auditevent SET action = 'governance.user.deleted' WHERE seq = 1",
    "DELETE FROM governance_auditevent WHERE seq = 1",
])
def test_the_database_refuses_update_and_delete(personas, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(sql)
    assert AuditEvent.objects.filter(seq=1, action="governance.team.created").exists()


def test_the_model_refuses_update_and_delete(personas):
    event = AuditEvent.objects.first()
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


def _seal():
    from governance.auditlog.sealer import seal

    return seal()


def test_verify_pinpoints_a_row_edited_behind_the_applications_back(client_for, personas):
    client = client_for("auditor")
    _seal()
    total = AuditEvent.objects.count()
    assert client.get("/api/v1/audit-events/verify/").json() == {
        "ok": True, "checked": total, "checkpoints": 1, "sealed": total}
    target = AuditEvent.objects.order_by("seq")[5]
    with triggers_disabled(), connection.cursor() as cur:
        cur.execute("UPDATE governance_auditevent SET object_repr = %s WHERE seq = %s",
                    ["someone-else", target.seq])
    body = client.get("/api/v1/audit-events/verify/").json()
    assert body["ok"] is False and body["broken_at"] == target.seq
    assert body["checked"] == target.seq - 1
    assert "columns do not match" in body["reason"]


def test_verify_pinpoints_a_deleted_row(personas):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    _seal()
    events = list(AuditEvent.objects.order_by("seq"))
    with triggers_disabled(), connection.cursor() as cur:
        cur.execute("DELETE FROM governance_auditevent WHERE seq = %s", [events[3].seq])
    result = audit.verify_chain()
    assert (result.ok, result.broken_at) == (False, events[3].seq)
    assert "missing" in result.reason
    with pytest.raises(CommandError, match=f"#{events[3].seq}"):
        call_command("verify_audit", stdout=io.StringIO())


def test_a_rewritten_event_with_a_matching_body_is_found_at_its_leaf(personas):
    _seal()
    victim = AuditEvent.objects.order_by("seq")[2]
    victim.payload = {"forged": True}
    forged_body = audit.event_body(victim)
    with triggers_disabled(), connection.cursor() as cur:
        cur.execute("UPDATE governance_auditevent SET payload = %s, body = %s WHERE seq = %s",
                    [json.dumps({"forged": True}), forged_body, victim.seq])
    result = audit.verify_chain()
    assert (result.ok, result.broken_at) == (False, victim.seq)
    assert "does not match the leaf sealed in checkpoint 1" in result.reason


def test_events_from_before_the_merkle_log_still_verify_their_old_chain(db):
    """Rows migrated from the hash-chained trail keep prev_hash/hash; a broken link is found."""
    from django.utils import timezone as tz

    prev = audit.GENESIS_HASH
    rows = []
    for seq in (1, 2, 3):
        fields = dict(seq=seq, timestamp=tz.now(), actor_id=None, actor_name="system",
                      actor_roles=[], action="governance.team.created", object_type="t",
                      object_id=str(seq), object_repr="t", model_name="", payload={"n": seq},
                      request_id="", client_ip="", prev_hash=prev)
        digest = audit.compute_hash(**fields)
        event = AuditEvent(hash=digest, **fields)
        event.body = audit.event_body(event)
        rows.append(event)
        prev = digest
    rows[2].prev_hash = rows[0].hash  # a chain that skips its predecessor
    AuditEvent.objects.bulk_create(rows)
    result = audit.verify_chain()
    assert (result.ok, result.broken_at) == (False, 3)
    assert "prev_hash" in result.reason


def test_verify_command_reports_ok(personas):
    from django.core.management import call_command

    _seal()
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    total = AuditEvent.objects.count()
    assert json.loads(out.getvalue()) == {"ok": True, "checked": total, "checkpoints": 1,
                                          "sealed": total}


def test_a_failed_request_writes_no_event(client_for, personas):
    factories.model(personas["engineer"])
    client = client_for("engineer")
    before = AuditEvent.objects.count()
    response = client.post("/api/v1/models/credit-default/risk-assessments/",
                           {"answers": {"materiality": "high"}}, format="json")
    assert response.status_code == 400
    assert AuditEvent.objects.count() == before


def test_events_carry_actor_roles_request_id_and_client_address(client_for, personas):
    from tests.governance.helpers import CREDIT_ANSWERS

    factories.model(personas["engineer"])
    client_for("engineer").post("/api/v1/models/credit-default/risk-assessments/",
                                {"answers": CREDIT_ANSWERS}, format="json",
                                HTTP_X_REQUEST_ID="req-42", REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.get(action="governance.risk_assessment.created")
    assert (event.actor_name, event.actor_roles) == ("engineer", ["engineer"])
    assert (event.request_id, event.client_ip) == ("req-42", "10.1.2.3")
    assert event.object_type == "governance.riskassessment"


def test_list_filters_by_object_actor_action_and_time(client_for, personas):
    factories.model(personas["engineer"])
    client = client_for("auditor")
    url = "/api/v1/audit-events/"
    assert client.get(url + "?model=credit-default").json()["count"] == 1
    assert client.get(url + "?actor=engineer&action=registry.model.registered").json()["count"] == 1
    assert client.get(url + "?action=governance.").json()["count"] >= 10
    future = (timezone.now() + timezone.timedelta(days=1)).isoformat()
    assert client.get(url, {"since": future}).json()["count"] == 0
    assert client.get(url, {"until": future}).json()["count"] == AuditEvent.objects.count()
    event = AuditEvent.objects.get(action="registry.model.registered")
    found = client.get(url, {"object_type": event.object_type, "object_id": event.object_id}).json()
    assert [e["seq"] for e in found["results"]] == [event.seq]
    assert client.get(url + "?since=yesterday").status_code == 400


def test_engineers_read_only_their_teams_models_and_their_own_actions(client_for, personas):
    factories.model(personas["engineer"])
    factories.model(personas["other_engineer"], name="fraud-model", team_name="fraud")
    names = {e["model_name"] for e in client_for("engineer").get(
        "/api/v1/audit-events/?page_size=200").json()["results"]}
    assert "credit-default" in names and "fraud-model" not in names
    assert client_for("validator").get("/api/v1/audit-events/?model=fraud-model").json()["count"] == 1


def test_audit_list_query_count_is_bounded(client_for, personas):
    from tests import contract

    contract.assert_list_queries_bounded(
        client_for("auditor"), "/api/v1/audit-events/",
        lambda: [factories.model(personas["engineer"], name=f"m{i}") for i in range(5)])


def test_export_as_csv_and_json_lines(client_for, personas):
    factories.model(personas["engineer"])
    client = client_for("auditor")
    total = AuditEvent.objects.count()  # includes the auditor's token event
    jsonl = client.get("/api/v1/audit-events/export/?format=jsonl")
    assert jsonl.status_code == 200 and jsonl["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(x) for x in b"".join(jsonl.streaming_content).decode().splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, total + 1))
    registered = next(x for x in lines if x["action"] == "registry.model.registered")
    assert json.loads(registered["body"])["seq"] == registered["seq"]  # what the leaf hashes
    assert registered["payload"]["after"]["team"] == "credit"
    response = client.get("/api/v1/audit-events/export/?format=csv&model=credit-default")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["registry.model.registered"]
    assert rows[0]["action_label"] == registered["action_label"] == action_label(rows[0]["action"])
    assert rows[0]["action_label"] != rows[0]["action"]
    assert json.loads(rows[0]["payload"])["after"]["name"] == "credit-default"
    assert client.get("/api/v1/audit-events/export/?format=xml").status_code == 400


def test_stage_history_answers_what_was_in_production_at_a_time(client_for, personas):
    eng, val = personas["engineer"], personas["validator"]
    model = factories.model(eng)
    v1 = factories.version(eng, model)
    v2 = factories.version(eng, model)
    with transaction.atomic():
        registry_services.set_stage(version=v1, stage="production", actor=val, reason="approved")
    between = timezone.now()
    with transaction.atomic():
        registry_services.set_stage(version=v1, stage="archived", actor=val, reason="replaced")
        registry_services.set_stage(version=v2, stage="production", actor=val, reason="approved")
    client = client_for("auditor")
    body = client.get("/api/v1/models/credit-default/stage-history/").json()
    assert [(c["version"], c["from"], c["to"]) for c in body["changes"]] == [
        (1, "development", "production"), (1, "production", "archived"),
        (2, "development", "production")]
    at_between = client.get("/api/v1/models/credit-default/stage-history/",
                            {"at": between.isoformat()}).json()
    assert [v["version"] for v in at_between["in_production"]] == [1]
    now = client.get("/api/v1/models/credit-default/stage-history/",
                     {"at": timezone.now().isoformat()}).json()
    assert [v["version"] for v in now["in_production"]] == [2]
    assert client_for("other_engineer").get(
        "/api/v1/models/credit-default/stage-history/").status_code == 404


@pytest.mark.parametrize("payload", [
    {}, {"after": {"stage": "production"}, "before": {"stage": "staging"}},
    {"z": 1, "a": [1.5, 2e-7, None, True], "ünï": "café \u2028 \"quoted\" \\ \n\t\x01 €"},
    {"nested": {"b": {"d": 1, "c": [{"y": 1, "x": 2}]}}, "big": 2**70, "neg": -0.0},
])
def test_the_body_split_around_the_position_is_the_canonical_json(payload):
    fields = dict(timestamp="2026-11-23T10:00:00.000123Z", actor_id=None, actor_name="vál\"x",
                  actor_roles=["admin", "validator"], action="governance.team.created",
                  object_type="t", object_id="1", object_repr="ob\u00e9 \n", model_name="m",
                  payload=payload, request_id="r", client_ip="::1")
    head, tail = audit.body_parts(fields)
    assert head + "4711" + tail == json.dumps({**fields, "seq": 4711}, sort_keys=True,
                                              separators=(",", ":"), ensure_ascii=False)


def test_verify_handles_payloads_with_unicode_and_floats(personas):
    with transaction.atomic():
        audit.record(action="governance.team.created", object_type="t", object_id="x",
                     payload={"ünï": "café €", "f": 0.1, "n": None, "l": [3, 1.25, 2e-7]})
    _seal()
    assert audit.verify_chain().ok


def test_full_verification_is_for_the_roles_that_audit_and_runs_once_at_a_time(
    client_for, personas
):
    engineer = client_for("engineer")
    refused = engineer.get("/api/v1/audit-events/verify/")
    assert refused.status_code == 403 and "auditors, validators, compliance" in refused.json()["detail"]
    assert client_for("compliance").get("/api/v1/audit-events/verify/").status_code == 200
    if connection.vendor == "postgresql":  # another process is verifying: told to wait, not queued
        from django.db import connections

        from governance.audit import _VERIFY_LOCK

        other = connections.create_connection("default")
        try:
            with other.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(%s)", [_VERIFY_LOCK])
            busy = client_for("auditor").get("/api/v1/audit-events/verify/")
            assert busy.status_code == 409 and "already running" in busy.json()["detail"]
        finally:
            other.close()
        assert client_for("auditor").get("/api/v1/audit-events/verify/").status_code == 200
