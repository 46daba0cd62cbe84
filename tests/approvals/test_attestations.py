"""Signed release attestations: written when a promotion executes, served per version, linked
from the version page, checked offline by tools/gatehouse_verify.py."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import DatabaseError, connection, transaction

from approvals.models import ReleaseAttestation
from governance.auditlog.sealer import seal
from governance.models import AuditEvent
from tests.approvals.test_services_promotion import approve, open_request
from tests.governance.test_audit_log import verify_offline


@pytest.fixture
def executed(personas, make_ready):
    version = make_ready(tier=1)
    req = open_request(personas, version)
    approve(personas, req, "validator", "validator", comment="validated")
    approve(personas, req, "compliance", "compliance")
    approve(personas, req, "business", "business_approver")
    req.refresh_from_db()
    assert req.state == "executed"
    return req


def test_an_executed_promotion_writes_a_signed_statement_of_why(executed):
    att = ReleaseAttestation.objects.get(request=executed)
    statement = json.loads(base64.b64decode(att.envelope["payload"]))
    assert att.envelope["payloadType"] == "application/vnd.in-toto+json"
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://gatehouse.dev/promotion/v1"
    version = executed.version
    assert statement["subject"] == [{"name": f"{version.model.name}@{version.version}",
                                     "digest": {"sha256": version.artifact_sha256}}]
    pred = statement["predicate"]
    assert (pred["model"], pred["version"], pred["target_stage"]) == (
        version.model.name, version.version, "production")
    assert pred["policy"] == {"tier": executed.policy.tier, "version": executed.policy.version}
    assert sorted((a["approver"], a["role"]) for a in pred["approvals"]) == [
        ("business", "business_approver"), ("compliance", "compliance"),
        ("validator", "validator")]
    jobs = {e["key"]: e for e in pred["evidence"] if e["type"] == "job"}
    assert set(jobs) == {"shap", "fairness"}
    assert all(len(j["result_sha256"]) == 64 and j["status"] == "succeeded"
               for j in jobs.values())
    assert any(e["type"] == "document_revision" for e in pred["evidence"])
    event = AuditEvent.objects.get(seq=pred["audit"]["event_position"])
    assert event.action == "approvals.promotion.executed"
    assert event.object_id == str(executed.pk)


def test_the_api_links_the_checkpoint_once_sealed_and_the_verifier_checks_it(
        executed, client_for, tmp_path):
    auditor = client_for("auditor")
    url = (f"/api/v1/models/{executed.model.name}/versions/{executed.version.version}"
           "/attestations/")
    [before] = auditor.get(url).json()
    assert before["audit"]["sealed"] is False and before["audit"]["checkpoint"] is None
    seal()
    [after] = auditor.get(url).json()
    assert after["audit"] == {**before["audit"], "sealed": True, "checkpoint": 1}
    key = auditor.get("/api/v1/audit/public-key/").json()
    cp = auditor.get("/api/v1/audit/checkpoints/latest/").json()
    proof = auditor.get(after["audit"]["proof_url"]).json()
    done = verify_offline(tmp_path, "attestation", key=key, envelope=after, proof=proof,
                          checkpoint=cp)
    assert done.returncode == 0, done.stderr
    assert "signature OK" in done.stdout and "is in checkpoint 1" in done.stdout
    tampered = json.loads(base64.b64decode(after["envelope"]["payload"]))
    tampered["predicate"]["target_stage"] = "staging"
    forged = {**after["envelope"],
              "payload": base64.b64encode(json.dumps(tampered).encode()).decode()}
    done = verify_offline(tmp_path, "attestation", key=key, envelope=forged)
    assert done.returncode == 1 and "no signature" in done.stderr
    assert client_for("other_engineer").get(url).status_code == 404


def test_the_verifier_checks_the_artifact_digest(executed, client_for, tmp_path):
    auditor = client_for("auditor")
    url = (f"/api/v1/models/{executed.model.name}/versions/{executed.version.version}"
           "/attestations/")
    [att] = auditor.get(url).json()
    key = auditor.get("/api/v1/audit/public-key/").json()
    done = verify_offline(tmp_path, "attestation", key=key, envelope=att)
    assert done.returncode == 0
    import subprocess
    import sys

    from tests.governance.test_audit_log import VERIFIER

    env_file, key_file = tmp_path / "att.json", tmp_path / "key.json"
    env_file.write_text(json.dumps(att))
    key_file.write_text(json.dumps(key))
    other = subprocess.run([sys.executable, str(VERIFIER), "attestation", "--key", str(key_file),
                            "--envelope", str(env_file), "--sha256", "0" * 64],
                           capture_output=True, text=True, timeout=60)
    assert other.returncode == 1 and "not the artifact" in other.stderr


def test_the_version_page_lists_attestations(executed, personas):
    from django.test import Client

    seal()
    web = Client()
    web.force_login(personas["auditor"])
    html = web.get(
        f"/models/{executed.model.name}/v{executed.version.version}/").content.decode()
    assert 'data-testid="attestations"' in html
    assert "sealed in checkpoint 1" in html
    assert f"/api/v1/models/{executed.model.name}/versions/{executed.version.version}/attestations/" in html


def test_attestations_and_decisions_are_append_only(executed):
    for sql in ("UPDATE approvals_releaseattestation SET target_stage = 'staging'",
                "DELETE FROM approvals_decision"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(sql)
