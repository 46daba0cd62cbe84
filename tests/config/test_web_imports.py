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
