"""What a web process holds once it is loaded (what `gunicorn --preload` forks its workers from):
libraries that only some requests need are imported by the code that needs them, so an idle web
or worker process does not carry them; with single sign-on on, the JWT library is loaded up front
so the workers share it instead of each loading its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = ["jwt", "cryptography", "jsonschema", "nh3"]


def _loaded_after_wsgi(tmp_path: Path, **env: str) -> dict[str, bool]:
    code = (
        "import json, sys; import config.wsgi; "
        f"print(json.dumps({{m: m in sys.modules for m in {OPTIONAL!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
             "GATEHOUSE_VAR_DIR": str(tmp_path), **env},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_loaded_web_process_does_not_hold_libraries_only_some_requests_need(tmp_path):
    assert _loaded_after_wsgi(tmp_path, OIDC_ISSUER="") == dict.fromkeys(OPTIONAL, False)


def test_with_single_sign_on_the_jwt_library_is_loaded_before_the_workers_fork(tmp_path):
    loaded = _loaded_after_wsgi(
        tmp_path, OIDC_ISSUER="https://login.example/realms/staff", OIDC_CLIENT_ID="gatehouse",
        OIDC_CLIENT_SECRET="secret",
    )
    assert loaded["jwt"] and loaded["cryptography"]
    assert not loaded["jsonschema"] and not loaded["nh3"]


# --- the Celery worker ----------------------------------------------------------------------

#: Code only a web process runs: the URLconf, the API views, DRF's serializers (and with them
#: the optional libraries DRF imports if installed: requests, markdown) and the OpenAPI
#: generator's helpers, which import the test clients of DRF and Django; and Markdown, which a
#: worker needs only to render a document.
WEB_ONLY = ["config.urls", "registry.api.views", "governance.api.views_auditlog",
            "mlflow_api.api", "rest_framework.serializers", "requests", "drf_spectacular.plumbing",
            "rest_framework.test", "django.test", "markdown"]


def _embedded_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """The embedded default (SQLite and the filesystem broker under tmp_path), not the test
    run's database or broker."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DATABASE_URL", "CELERY_", "AUDIT_SIGNING_", "ARTIFACT_"))}
    return {**clean, "DJANGO_SETTINGS_MODULE": "config.settings",
            "GATEHOUSE_VAR_DIR": str(tmp_path), **env}


def _worker(tmp_path: Path, *celery_args: str, **env: str) -> dict[str, bool] | str:
    """`celery [celery_args] -A config worker` started for real: once ready it writes which of
    WEB_ONLY it holds and exits (returned); if it does not start, its output (returned)."""
    held = tmp_path / "held.json"
    code = (
        "import json, os, sys\n"
        "from celery.signals import worker_ready\n"
        "from config.celery import app\n"
        "@worker_ready.connect\n"
        "def held(**kw):\n"
        f"    with open({str(held)!r}, 'w') as f:\n"
        f"        json.dump({{m: m in sys.modules for m in {WEB_ONLY!r}}}, f)\n"
        "    os._exit(0)\n"
        f"app.worker_main([*{list(celery_args)!r}, 'worker', '--pool=solo', '--without-mingle',"
        " '--without-gossip', '--without-heartbeat'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env=_embedded_env(tmp_path, **env))
    if out.returncode == 0 and held.exists():
        return json.loads(held.read_text())
    return out.stdout + out.stderr


def test_an_idle_worker_does_not_hold_the_web_code(tmp_path):
    assert _worker(tmp_path) == dict.fromkeys(WEB_ONLY, False)


def test_a_worker_with_a_broken_signing_key_refuses_to_start_naming_it(tmp_path):
    out = _worker(tmp_path, AUDIT_SIGNING_KEY="not-a-key")
    assert isinstance(out, str)  # it did not become ready
    assert "gatehouse.E101" in out and "AUDIT_SIGNING_KEY is not an Ed25519" in out


def test_a_worker_whose_artifact_bucket_cannot_be_reached_refuses_to_start(tmp_path):
    out = _worker(tmp_path, ARTIFACT_STORAGE="s3", ARTIFACT_S3_BUCKET="nope",
                  ARTIFACT_S3_ENDPOINT_URL="http://127.0.0.1:9", ARTIFACT_S3_MAX_ATTEMPTS="1",
                  AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b")
    assert isinstance(out, str)
    assert "gatehouse.E001" in out and "cannot be reached" in out


def test_celery_skip_checks_still_skips_the_workers_checks(tmp_path):
    assert isinstance(_worker(tmp_path, "--skip-checks", AUDIT_SIGNING_KEY="not-a-key"), dict)
