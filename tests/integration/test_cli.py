"""The `gatehouse` command line, run as a pipeline runs it (a separate process, no terminal)
against a live server, with a real worker for the job it waits on."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from approvals.models import PromotionRequest
from governance import services as gov
from registry.models import LineageEdge, ModelVersion
from tests import factories
from tests.integration import jobdata

pytestmark = pytest.mark.integration


@pytest.fixture
def gatehouse(live_server, tmp_path):
    """gatehouse(*args) -> CompletedProcess of `python -m gatehouse_cli ARGS` with its own
    saved-login file, as a CI step would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env["GATEHOUSE_CONFIG"] = str(tmp_path / "cli" / "config.json")

    def run(*args: str, check_ok: bool = False) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "gatehouse_cli", *args], env=env, capture_output=True,
            text=True, timeout=300, stdin=subprocess.DEVNULL,
        )
        if check_ok:
            assert done.returncode == 0, done.stderr
        return done

    run.url = live_server.url
    run.config = tmp_path / "cli" / "config.json"
    return run


def _login(gatehouse, user) -> None:
    _, key = gov.token_create(user=user)
    gatehouse("login", "--url", gatehouse.url, "--token", key, check_ok=True)


def test_a_bad_token_is_exit_code_2_and_one_line(gatehouse, personas):
    done = gatehouse("login", "--url", gatehouse.url, "--token", "not-a-token")

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gatehouse: Authentication failed")
    assert not gatehouse.config.exists()


def test_commands_before_login_say_how_to_log_in(gatehouse, db):
    done = gatehouse("audit", "verify")

    assert done.returncode == 2 and "gatehouse login" in done.stderr


def test_login_saves_the_token_for_the_owner_only(gatehouse, personas):
    _login(gatehouse, personas["engineer"])

    assert stat.S_IMODE(gatehouse.config.stat().st_mode) == 0o600
    assert json.loads(gatehouse.config.read_text())["url"] == gatehouse.url


def test_register_uploads_the_artifact_with_its_lineage(gatehouse, personas, tmp_path):
    engineer = personas["engineer"]
    loans = factories.dataset_version(engineer, factories.dataset(engineer))
    artifact = tmp_path / "model.skops"
    artifact.write_bytes(factories.skops_bytes())
    _login(gatehouse, engineer)

    done = gatehouse("--json", "register", "credit-default", "--create-model", "--team", "credit",
                     "--artifact", str(artifact), "--trained-on", loans.ref,
                     "--framework", "scikit-learn", "--code-commit", "abc123",
                     "--metrics", '{"auc": 0.81}', check_ok=True)

    body = json.loads(done.stdout)
    version = ModelVersion.objects.get(model__name="credit-default", version=body["version"])
    assert version.artifact.size == artifact.stat().st_size
    assert version.code_commit == "abc123" and version.metrics == {"auc": 0.81}
    assert LineageEdge.objects.get(downstream_model=version).upstream_dataset == loans
    again = gatehouse("register", "credit-default", "--artifact", str(artifact), check_ok=True)
    assert again.stdout.startswith("Registered credit-default@2 ")


def test_register_refuses_a_pickle_with_the_servers_reason(gatehouse, personas, tmp_path):
    factories.model(personas["engineer"])
    artifact = tmp_path / "model.pkl"
    artifact.write_bytes(factories.pickle_bytes())
    _login(gatehouse, personas["engineer"])

    done = gatehouse("register", "credit-default", "--artifact", str(artifact))

    assert done.returncode == 1
    assert "pickle" in done.stderr.lower() and not ModelVersion.objects.exists()


def test_job_start_waits_for_a_real_worker(gatehouse, personas, start_worker):
    engineer = personas["engineer"]
    df = jobdata.credit(n=300)
    dv = jobdata.upload_dataset(engineer, df)
    mv = jobdata.register(engineer, jobdata.fit("gbm", df), training=dv)
    start_worker()
    _login(gatehouse, engineer)

    done = gatehouse("job", "start", mv.ref, "--kind", "shap", "--dataset", dv.ref,
                     "--param", "sample_size=40", "--param", "background_size=20", "--wait",
                     "--timeout", "240")

    assert done.returncode == 0, done.stderr
    job = mv.jobs.get()
    assert job.status == "succeeded"
    assert done.stdout.strip() == f"Job {job.pk} (shap) succeeded on {mv.ref}."


def test_job_wait_on_a_failed_job_is_exit_code_1_with_its_error(gatehouse, personas, start_worker):
    engineer = personas["engineer"]
    df = jobdata.credit(n=200)
    mv = jobdata.register(engineer, jobdata.fit("logreg", df))
    missing = jobdata.FEATURES[0]
    # Data without one of the model's input columns: the worker finds it when it loads the rows.
    dv = jobdata.upload_dataset(engineer, df.drop(columns=[missing]), name="partial")
    start_worker()
    _login(gatehouse, engineer)
    started = gatehouse("--json", "job", "start", mv.ref, "--kind", "shap", "--dataset", dv.ref,
                        "--param", "sample_size=20", check_ok=True)
    job_id = json.loads(started.stdout)["id"]

    done = gatehouse("job", "wait", str(job_id), "--timeout", "240")

    assert done.returncode == 1
    assert done.stderr.startswith(f"gatehouse: Job {job_id} failed: ")
    assert missing in done.stderr


def test_promote_request_and_status_name_what_is_missing(gatehouse, personas):
    from oversight.services import risk as risk_services
    from tests.governance.helpers import LOW_ANSWERS

    owner = personas["owner"]
    model = factories.model(owner)
    mv = factories.version(owner, model)
    risk_services.risk_assessment_create(actor=owner, model=model, answers=LOW_ANSWERS)
    _login(gatehouse, owner)

    done = gatehouse("promote", "request", mv.ref, "--stage", "staging",
                     "--justification", "Ready for validation", check_ok=True)

    request = PromotionRequest.objects.get(version=mv)
    assert done.stdout.startswith(f"Promotion #{request.pk} of {mv.ref} to staging: ")
    status = gatehouse("--json", "promote", "status", str(request.pk), check_ok=True)
    assert json.loads(status.stdout)["state"] == request.state


def test_audit_verify_reports_an_intact_log(gatehouse, personas):
    factories.model(personas["engineer"])
    _login(gatehouse, personas["auditor"])

    done = gatehouse("audit", "verify", check_ok=True)

    assert done.stdout.startswith("Audit log verified: ")


def test_usage_errors_are_exit_code_2(gatehouse, personas):
    _login(gatehouse, personas["engineer"])

    done = gatehouse("job", "start", "not-a-ref", "--kind", "shap", "--dataset", "x@1")

    assert done.returncode == 2 and "MODEL@VERSION" in done.stderr
