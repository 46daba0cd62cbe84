"""Production settings: `check --deploy` is clean with the README's production variables, and the
responses carry what those settings promise (HSTS, secure HttpOnly cookies, CSP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

BASE = Path(settings.BASE_DIR)

# The production variables of the README's settings table (security part).
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "b" * 20 + "production-secret-from-the-vault-0123456789-abcdefgh",
    "ALLOWED_HOSTS": "gatehouse.bank.example",
    "CSRF_TRUSTED_ORIGINS": "https://gatehouse.bank.example",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto,https",
    # The audit log's Ed25519 key (base64 of a 32-byte seed; a file via AUDIT_SIGNING_KEY_FILE).
    "AUDIT_SIGNING_KEY": "Z2F0ZWhvdXNlLWRlcGxveS10ZXN0LWtleS0wMTIzNDU=",
}


def _run(code: list[str], extra: dict[str, str] | None = None, tmp_path: Path | None = None):
    # Not the test process's own switches (the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE).
    env = {
        k: v for k, v in os.environ.items()
        if k not in PRODUCTION_ENV and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env.update(PRODUCTION_ENV)
    env.update(extra or {})
    if tmp_path is not None:
        env["GATEHOUSE_VAR_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, *code], cwd=BASE, env=env, capture_output=True, text=True, timeout=300
    )


def test_check_deploy_reports_no_warning_with_the_production_variables(tmp_path):
    done = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_is_clean_with_single_sign_on_only(tmp_path):
    sso = {
        "OIDC_ISSUER": "https://login.bank.example/realms/staff", "OIDC_CLIENT_ID": "gatehouse",
        "OIDC_CLIENT_SECRET": "s3cret", "OIDC_ROLE_MAP": '{"gh-validators": "validator"}',
        "OIDC_TEAM_MAP": '{"credit-risk-ml": "credit"}', "LOCAL_LOGIN": "0",
    }
    done = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], sso, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_role_map_naming_no_role_is_a_start_up_error(tmp_path):
    sso = {"OIDC_ISSUER": "https://login.bank.example", "OIDC_CLIENT_ID": "gatehouse",
           "OIDC_CLIENT_SECRET": "s", "OIDC_ROLE_MAP": '{"gh-validators": "validater"}'}
    done = _run(["manage.py", "check"], sso, tmp_path)
    assert done.returncode != 0
    assert "maps 'gh-validators' to 'validater', which is not a role" in done.stderr


def test_password_login_off_without_single_sign_on_is_a_start_up_error(tmp_path):
    done = _run(["manage.py", "check"], {"LOCAL_LOGIN": "0"}, tmp_path)
    assert done.returncode != 0
    assert "LOCAL_LOGIN=0 needs single sign-on" in done.stderr


def test_check_deploy_warns_when_a_hardened_default_is_switched_off(tmp_path):
    done = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {"SESSION_COOKIE_SECURE": "0"},
        tmp_path,
    )
    assert done.returncode != 0
    assert "security.W012" in done.stdout + done.stderr


def test_debug_off_refuses_to_start_without_a_secret_key(tmp_path):
    done = _run(["manage.py", "check"], {"SECRET_KEY": ""}, tmp_path)
    assert done.returncode != 0
    assert "SECRET_KEY must be set" in done.stderr


PROBE = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(HTTP_HOST="gatehouse.bank.example")
plain = client.get("/accounts/login/")
page = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
cookie = page.cookies["csrftoken"]
print(json.dumps({
    "plain_status": plain.status_code, "plain_location": plain.get("Location", ""),
    "status": page.status_code, "hsts": page.get("Strict-Transport-Security", ""),
    "csp": page.get("Content-Security-Policy", ""), "frame": page.get("X-Frame-Options", ""),
    "csrf_secure": bool(cookie["secure"]), "csrf_httponly": bool(cookie["httponly"]),
}))
"""


def test_production_responses_carry_hsts_csp_and_secure_cookies(tmp_path):
    done = _run(["-c", PROBE], {"DJANGO_SETTINGS_MODULE": "config.settings"}, tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # Plain HTTP is sent to HTTPS; behind the proxy (X-Forwarded-Proto: https) the page is served.
    assert seen["plain_status"] == 301
    assert seen["plain_location"].startswith("https://gatehouse.bank.example/")
    assert seen["status"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in seen["csp"] and "frame-ancestors 'none'" in seen["csp"]
    assert seen["frame"] == "DENY"
    assert seen["csrf_secure"] and seen["csrf_httponly"]


@pytest.mark.parametrize("raw", ["X-Forwarded-Proto", "X-Forwarded-Proto,", ",https"])
def test_a_malformed_proxy_header_setting_is_a_start_up_error(raw, tmp_path):
    done = _run(["manage.py", "check"], {"SECURE_PROXY_SSL_HEADER": raw}, tmp_path)
    assert done.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must look like" in done.stderr
