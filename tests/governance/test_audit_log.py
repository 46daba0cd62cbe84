"""The Merkle audit log: sealing, signed checkpoints, proofs over the API, holes, and the
offline verifier (tools/gatehouse_verify.py run as a separate program, importing nothing of
Gatehouse)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from governance import audit
from governance.auditlog import merkle, signing
from governance.auditlog.sealer import seal
from governance.models import AuditCheckpoint, AuditEvent, AuditTreeTile
from tests.governance.test_audit_trail import triggers_disabled

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "gatehouse_verify.py"


def _events(n: int, tag: str = "e") -> None:
    for i in range(n):
        with transaction.atomic():
            audit.record(action="governance.team.created", object_type="test.event",
                         object_id=f"{tag}{i}", payload={"i": i, "tag": tag})


def verify_offline(tmp_path: Path, what: str, **files: dict) -> subprocess.CompletedProcess:
    args = [sys.executable, str(VERIFIER), what]
    for name, content in files.items():
        path = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps(content))
        args += [f"--{name}", str(path)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


@pytest.fixture
def auditor(client_for):
    return client_for("auditor")


@pytest.fixture
def key(auditor):
    return auditor.get("/api/v1/audit/public-key/").json()


# --- the tree ------------------------------------------------------------------------------------


def _ref_mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_ref_mth(leaves[:k]), _ref_mth(leaves[k:]))


@pytest.mark.parametrize("size", [1, 2, 3, 255, 256, 257, 600, 65537])
def test_roots_and_proofs_follow_rfc_6962_across_stored_tile_boundaries(size):
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(size)]
    src = merkle.ListSource(leaves)
    assert merkle.root(src, size) == _ref_mth(leaves)
    for index in {0, size // 2, size - 1}:
        path = merkle.inclusion_proof(src, index, size)
        assert merkle.root_from_inclusion(index, size, leaves[index], path) == _ref_mth(leaves)
    for first in {1, size // 3 or 1, size}:
        proof = merkle.consistency_proof(src, first, size)
        assert merkle.verify_consistency(first, size, _ref_mth(leaves[:first]),
                                         _ref_mth(leaves), proof)


def test_seals_in_rounds_store_tiles_that_never_cross_a_boundary(personas):
    _events(300)
    first = seal(max_events=100)
    second = seal()
    assert (first.checkpoint.number, second.checkpoint.number) == (1, 2)
    total = AuditEvent.objects.count()
    assert second.checkpoint.tree_size == total and first.checkpoint.tree_size == 100
    assert seal().sealed == 0  # nothing new: no new checkpoint
    assert AuditCheckpoint.objects.count() == 2
    for tile in AuditTreeTile.objects.all():
        count = len(tile.hashes) // 32
        assert tile.start // 256 == (tile.start + count - 1) // 256
    bodies = AuditEvent.objects.order_by("seq").values_list("body", flat=True)
    leaves = [merkle.leaf_hash(b.encode()) for b in bodies]
    assert second.checkpoint.root_hash == _ref_mth(leaves).hex()
    assert audit.verify_chain().as_dict() == {"ok": True, "checked": total, "checkpoints": 2,
                                              "sealed": total}


def test_checkpoints_and_tiles_are_append_only(personas):
    from django.db import DatabaseError

    seal()
    for sql in ("UPDATE governance_auditcheckpoint SET root_hash = 'x'",
                "DELETE FROM governance_audittreetile"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(sql)
    cp = AuditCheckpoint.objects.get()
    with pytest.raises(RuntimeError):
        cp.save()
    with pytest.raises(RuntimeError):
        cp.delete()


# --- API + offline verifier ---------------------------------------------------------------------


def test_latest_checkpoint_is_signed_and_the_verifier_accepts_it(auditor, key, tmp_path):
    assert auditor.get("/api/v1/audit/checkpoints/latest/").status_code == 404
    seal()
    cp = auditor.get("/api/v1/audit/checkpoints/latest/").json()
    assert cp["tree_size"] == AuditEvent.objects.count() and cp["number"] == 1
    assert cp["signed_note"] == (f"gatehouse.dev/audit/v1\n{cp['tree_size']}\n"
                                 f"{cp['root_hash']}\n{cp['timestamp']}\n")
    done = verify_offline(tmp_path, "checkpoint", key=key, checkpoint=cp)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def test_a_forged_checkpoint_fails_the_signature(auditor, key, tmp_path, personas):
    seal()
    cp = auditor.get("/api/v1/audit/checkpoints/latest/").json()
    forged = {**cp, "root_hash": "ab" * 32}
    done = verify_offline(tmp_path, "checkpoint", key=key, checkpoint=forged)
    assert done.returncode == 1 and "signature does not verify" in done.stderr
    # The same forgery in the database (a checkpoint signed by someone else's key).
    _events(2)
    other = Ed25519PrivateKey.generate()
    size = AuditEvent.objects.count()
    from django.utils import timezone

    now = timezone.now()
    note = signing.checkpoint_note(size, "cd" * 32, audit.format_timestamp(now))
    import base64

    AuditCheckpoint.objects.create(number=2, tree_size=size, root_hash="cd" * 32, created_at=now,
                                   key_id=signing.key_id(),
                                   signature=base64.b64encode(other.sign(note)).decode())
    result = audit.verify_chain()
    assert result.ok is False and result.bad_checkpoint == 2
    assert "signature does not verify" in result.reason


def test_an_event_edited_after_sealing_breaks_its_inclusion_proof(auditor, key, tmp_path,
                                                                   personas):
    _events(40)
    seal()
    cp = auditor.get("/api/v1/audit/checkpoints/latest/").json()
    target = AuditEvent.objects.get(object_id="e17")
    proof = auditor.get(f"/api/v1/audit/events/{target.seq}/proof/").json()
    assert json.loads(proof["event"])["object_id"] == "e17"
    assert verify_offline(tmp_path, "inclusion", key=key, checkpoint=cp,
                          proof=proof).returncode == 0
    with triggers_disabled(), connection.cursor() as cur:
        cur.execute("UPDATE governance_auditevent SET payload = %s WHERE seq = %s",
                    ['{"i": 999}', target.seq])
    result = audit.verify_chain()
    assert (result.ok, result.broken_at) == (False, target.seq)
    edited = auditor.get(f"/api/v1/audit/events/{target.seq}/proof/").json()
    done = verify_offline(tmp_path, "inclusion", key=key, checkpoint=cp, proof=edited)
    assert done.returncode == 1 and f"event #{target.seq} is not in the signed tree" in done.stderr


def test_consistency_holds_between_checkpoints_and_fails_after_a_rewrite(auditor, key, tmp_path,
                                                                        personas):
    _events(5, "a")
    seal()
    saved = auditor.get("/api/v1/audit/checkpoints/latest/").json()
    _events(300, "b")
    seal()
    new = auditor.get("/api/v1/audit/checkpoints/latest/").json()
    url = f"/api/v1/audit/consistency/?first={saved['tree_size']}&second={new['tree_size']}"
    proof = auditor.get(url).json()
    assert proof["first_root"] == saved["root_hash"] and proof["second_checkpoint"] == new
    done = verify_offline(tmp_path, "consistency", key=key, old=saved, new=new, proof=proof)
    assert done.returncode == 0, done.stderr
    # Rewrite history: change an early event, throw the log away and seal it all again (what
    # someone with the database and the key would have to do to hide the edit).
    victim = AuditEvent.objects.get(object_id="a2")
    victim.payload = {"rewritten": True}
    with triggers_disabled(), connection.cursor() as cur:
        cur.execute("UPDATE governance_auditevent SET payload = %s, body = %s WHERE seq = %s",
                    [json.dumps(victim.payload), audit.event_body(victim), victim.seq])
        for table in ("governance_audittreetile", "governance_auditcheckpoint"):
            if connection.vendor == "postgresql":
                cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            else:
                cur.execute(f"DROP TRIGGER {table}_no_delete")
            cur.execute(f"DELETE FROM {table}")
    seal()
    rewritten = auditor.get("/api/v1/audit/checkpoints/latest/").json()
    assert rewritten["tree_size"] == new["tree_size"]
    assert verify_offline(tmp_path, "checkpoint", key=key, checkpoint=rewritten).returncode == 0
    proof = auditor.get(f"/api/v1/audit/consistency/?first={saved['tree_size']}"
                        f"&second={rewritten['tree_size']}").json()
    done = verify_offline(tmp_path, "consistency", key=key, old=saved, new=rewritten, proof=proof)
    assert done.returncode == 1 and "history was rewritten" in done.stderr


@pytest.mark.parametrize(("url", "status", "field"), [
    ("/api/v1/audit/events/abc/proof/", 400, "position"),
    ("/api/v1/audit/events/0/proof/", 400, "position"),
    ("/api/v1/audit/events/1/proof/?tree_size=x", 400, "tree_size"),
    ("/api/v1/audit/events/1/proof/?tree_size=100000", 400, "tree_size"),
    ("/api/v1/audit/events/5/proof/?tree_size=3", 400, "position"),
    ("/api/v1/audit/events/100000/proof/", 404, None),
    ("/api/v1/audit/consistency/?first=1", 400, "second"),
    ("/api/v1/audit/consistency/?first=-1&second=2", 400, "first"),
    ("/api/v1/audit/consistency/?first=3&second=2", 400, "first"),
    ("/api/v1/audit/consistency/?first=1&second=100000", 400, "second"),
])
def test_bad_proof_requests_are_4xx_naming_what_was_wrong(auditor, url, status, field):
    seal()
    response = auditor.get(url)
    assert response.status_code == status, response.json()
    body = response.json()
    assert body["detail"]
    if field:
        assert field in body["errors"] and field in body["detail"]


def test_a_behind_sealer_is_a_409_not_a_500(auditor):
    assert auditor.get("/api/v1/audit/events/1/proof/").status_code == 409
    assert auditor.get("/api/v1/audit/consistency/?first=1&second=1").status_code == 409
    seal()
    _events(1)
    position = AuditEvent.objects.latest("seq").seq
    response = auditor.get(f"/api/v1/audit/events/{position}/proof/")
    assert response.status_code == 409 and "awaiting seal" in response.json()["detail"]
    assert response.json()["code"] == "not_sealed"


def test_proofs_of_events_an_engineer_may_not_read_are_404(client_for, personas):
    from tests import factories

    factories.model(personas["other_engineer"], name="fraud-model", team_name="fraud")
    seal()
    event = AuditEvent.objects.get(action="registry.model.registered")
    assert client_for("engineer").get(f"/api/v1/audit/events/{event.seq}/proof/").status_code == 404
    assert client_for("other_engineer").get(
        f"/api/v1/audit/events/{event.seq}/proof/").status_code == 200
    assert client_for("engineer").get("/api/v1/audit/public-key/").status_code == 200


def test_anonymous_callers_get_401(client):
    for url in ("/api/v1/audit/checkpoints/latest/", "/api/v1/audit/public-key/",
                "/api/v1/audit/events/1/proof/", "/api/v1/audit/consistency/?first=1&second=1"):
        assert client.get(url).status_code == 401


# --- holes --------------------------------------------------------------------------------------


def _make_hole() -> int:
    """A position no committed event will ever take (a rolled-back writer's, on PostgreSQL)."""
    if connection.vendor == "postgresql":
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            event = audit.record(action="governance.team.created", object_type="test.rollback")
            1 / 0  # noqa: B018 - the change fails after its event was written
        return event.seq
    # SQLite has one writer and gives a rolled-back position back: leave one out by hand.
    hole = AuditEvent.objects.latest("seq").seq + 1
    with transaction.atomic():
        audit._insert(connection, {**_fields(), "object_id": "after-hole"}, position=hole + 1)
    return hole


def _fields() -> dict:
    from django.utils import timezone

    return dict(timestamp=timezone.now(), actor_id=None, actor_name="system", actor_roles=[],
                action="governance.team.created", object_type="test.event", object_id="x",
                object_repr="x", model_name="", payload={}, request_id="", client_ip="")


def test_a_rolled_back_hole_is_sealed_as_aborted_after_the_wait(personas):
    seal()
    hole = _make_hole()
    _events(3, "after")
    waiting = seal(hole_wait=3600)
    assert waiting.waiting_at == hole and waiting.sealed == 0  # only the prefix before it
    assert waiting.checkpoint.tree_size == hole - 1
    done = seal(hole_wait=0)
    assert done.aborted == 1 and done.checkpoint.tree_size == AuditEvent.objects.latest("seq").seq
    aborted = AuditEvent.objects.get(seq=hole)
    assert aborted.action == audit.POSITION_ABORTED and aborted.payload["next_position"] > hole
    assert done.checkpoint.aborted == 1
    assert audit.verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_an_open_transaction_is_never_overtaken_by_the_sealer():
    """The claim waits on the in-flight writer's row; when it commits, its event is sealed."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has one writer at a time)")
    inside, release, errors = threading.Event(), threading.Event(), []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                audit.record(action="governance.team.created", object_type="test.slow")
                inside.set()
                release.wait(30)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inside.wait(10)
    _events(2, "later")
    slow_position = AuditEvent.objects.filter(object_type="test.event").order_by("seq")[0].seq - 1
    stalled = seal(hole_wait=0)
    assert stalled.waiting_at == slow_position and stalled.aborted == 0
    release.set()
    thread.join(30)
    assert errors == []
    done = seal(hole_wait=0)
    assert done.aborted == 0 and done.checkpoint.tree_size == slow_position + 2
    assert AuditEvent.objects.get(seq=slow_position).object_type == "test.slow"
    assert audit.verify_chain().ok


# --- keys and commands ---------------------------------------------------------------------------


@pytest.fixture
def fresh_key(settings):
    signing.private_key.cache_clear()
    yield settings
    signing.private_key.cache_clear()


def test_a_missing_key_file_is_a_clear_error(fresh_key, tmp_path):
    fresh_key.AUDIT_SIGNING_KEY_FILE = str(tmp_path / "nope.pem")
    with pytest.raises(ImproperlyConfigured, match="nope.pem does not exist.*generate_audit_key"):
        signing.key_id()


def test_generate_audit_key_writes_a_private_file_and_never_overwrites(fresh_key, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    path = tmp_path / "keys" / "audit.pem"
    call_command("generate_audit_key", "--out", str(path), stdout=open("/dev/null", "w"))
    assert path.stat().st_mode & 0o777 == 0o600
    fresh_key.AUDIT_SIGNING_KEY_FILE = str(path)
    note = signing.checkpoint_note(1, "00" * 32, "t")
    assert signing.verify(note, signing.sign(note))
    with pytest.raises(CommandError, match="already exists"):
        call_command("generate_audit_key", "--out", str(path))


def test_seal_audit_command_prints_what_it_sealed(personas):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("seal_audit", stdout=out)
    result = json.loads(out.getvalue())
    assert result["checkpoint"] == 1 and result["sealed"] == AuditEvent.objects.count()


def test_the_beat_task_seals_every_few_seconds(personas, settings):
    from governance.tasks import seal_audit_log

    entry = settings.CELERY_BEAT_SCHEDULE["governance-seal-audit-log"]
    assert entry["task"] == "governance.tasks.seal_audit_log"
    assert entry["schedule"] == settings.AUDIT_SEAL_INTERVAL <= 10
    result = seal_audit_log()
    assert result["checkpoint"] == 1 and result["tree_size"] == AuditEvent.objects.count()
    assert seal_audit_log()["sealed"] == 0


def test_manage_py_check_names_a_missing_signing_key(fresh_key, tmp_path):
    from django.core import checks

    fresh_key.AUDIT_SIGNING_KEY_FILE = str(tmp_path / "gone.pem")
    errors = [e for e in checks.run_checks() if e.id == "gatehouse.E101"]
    assert len(errors) == 1 and "gone.pem does not exist" in errors[0].msg


def test_check_deploy_warns_about_the_development_signing_key(fresh_key):
    from django.core import checks

    fresh_key.AUDIT_SIGNING_KEY = fresh_key.AUDIT_SIGNING_KEY_FILE = ""
    ids = [e.id for e in checks.run_checks(include_deployment_checks=True)]
    assert "gatehouse.W101" in ids
    assert "gatehouse.W101" not in [e.id for e in checks.run_checks()]


@pytest.mark.django_db(transaction=True)
def test_full_verify_outside_a_transaction_reports_the_lowest_bad_position():
    """Run as `manage.py verify_audit` and the API run it (no caller's transaction): on
    PostgreSQL the column check runs beside the pass on a second connection in the same snapshot.
    Whichever finds the lower position is reported."""
    _events(30)
    seal()
    _events(5, "unsealed")
    assert audit.verify_chain().ok
    column_edit = AuditEvent.objects.get(object_id="e12").seq
    body_edit = AuditEvent.objects.get(object_id="e20").seq
    with triggers_disabled(), connection.cursor() as cur:
        cur.execute("UPDATE governance_auditevent SET object_repr = 'nothing to see' WHERE seq = %s",
                    [column_edit])
        cur.execute("UPDATE governance_auditevent SET body = replace(body, '\"i\":20', '\"i\":21'), "
                    "payload = '{\"i\": 21, \"tag\": \"e\"}' WHERE seq = %s", [body_edit])
    result = audit.verify_chain()
    assert (result.ok, result.broken_at) == (False, column_edit)
    assert "columns do not match" in result.reason and result.checked == column_edit - 1
    with triggers_disabled(), connection.cursor() as cur:  # put the column back: the body remains
        cur.execute("UPDATE governance_auditevent SET object_repr = '' WHERE seq = %s", [column_edit])
    result = audit.verify_chain()
    assert (result.ok, result.broken_at) == (False, body_edit)
    assert "does not match the leaf sealed" in result.reason
