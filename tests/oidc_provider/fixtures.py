"""Fixtures: a real OpenID Connect provider (this folder's project, django-oauth-toolkit) run as
its own process on a free loopback port, with its own SQLite database in a temp folder, and
Gatehouse configured to trust it. Registered for the whole suite in tests/conftest.py (one
definition, so tests/sso and tests/e2e share one provider process)."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

PROVIDER_DIR = Path(__file__).resolve().parent
GATEHOUSE_SECRET = "gatehouse-client-secret-for-tests"

PEOPLE = {
    "users": {
        "alice": {
            "password": "alice-sso-pw", "email": "alice@bank.example", "given_name": "Alice",
            "family_name": "Validator", "roles": ["gh-validator", "gh-auditor"],
            "groups": ["risk-team", "all-staff"],
        },
        "bob": {
            "password": "bob-sso-pw", "email": "bob@bank.example", "given_name": "Bob",
            "roles": ["gh-engineer", "gh-owner"], "groups": ["credit-models"],
        },
    },
    "clients": {
        "gatehouse": {"secret": GATEHOUSE_SECRET, "redirect_uris": [], "audience": "gatehouse"},
        "pipeline-ci": {"secret": "pipeline-secret", "grant": "client-credentials",
                        "audience": "gatehouse-api", "lifetime": 300},
        "pipeline-short": {"secret": "short-secret", "grant": "client-credentials",
                           "audience": "gatehouse-api", "lifetime": 1},
        "other-app": {"secret": "other-secret", "grant": "client-credentials",
                      "audience": "other-api", "lifetime": 300},
    },
}
ROLE_MAP = {"gh-validator": "validator", "gh-auditor": "auditor", "gh-engineer": "engineer",
            "gh-owner": "model_owner", "gh-compliance": "compliance"}
TEAM_MAP = {"risk-team": "risk", "credit-models": "credit"}


class Provider:
    def __init__(self, data: Path, issuer: str, process: subprocess.Popen):
        self.data, self.issuer, self.process = data, issuer, process
        self.token_endpoint = issuer + "/token/"

    def write_people(self, people: dict) -> None:
        (self.data / "people.json").write_text(json.dumps(people))

    def people(self) -> dict:
        return json.loads((self.data / "people.json").read_text())

    def set_claims(self, username: str, **claims) -> None:
        people = self.people()
        people["users"][username].update(claims)
        self.write_people(people)

    def client_token(self, client_id: str) -> str:
        """A client-credentials access token (JWT), as a pipeline gets one."""
        secret = self.people()["clients"][client_id]["secret"]
        response = requests.post(
            self.token_endpoint, data={"grant_type": "client_credentials", "scope": "api"},
            auth=(client_id, secret), timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def sign_in(self, authorize_url: str, username: str, password: str) -> str:
        """Sign in at the provider as a browser would (login form, then authorization); returns
        the redirect back to Gatehouse's callback (code and state)."""
        session = requests.Session()
        response = session.get(authorize_url, allow_redirects=True, timeout=10)
        assert "Bank SSO" in response.text, response.text[:500]
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
        nxt = re.search(r'name="next" value="([^"]*)"', response.text).group(1)
        response = session.post(
            urljoin(response.url, "/accounts/login/"),
            data={"csrfmiddlewaretoken": csrf, "username": username, "password": password,
                  "next": nxt.replace("&amp;", "&")},
            headers={"Referer": response.url}, allow_redirects=False, timeout=10,
        )
        assert response.status_code == 302, response.text[:500]
        response = session.get(urljoin(response.url, response.headers["Location"]),
                               allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text[:500]
        return response.headers["Location"]


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory, live_server):
    data = tmp_path_factory.mktemp("oidc-provider")
    people = copy.deepcopy(PEOPLE)
    people["clients"]["gatehouse"]["redirect_uris"] = [
        "http://testserver/accounts/oidc/callback/",
        f"{live_server.url}/accounts/oidc/callback/",
    ]
    (data / "people.json").write_text(json.dumps(people))
    process = subprocess.Popen(
        [sys.executable, str(PROVIDER_DIR / "serve.py"), str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not any(line.startswith("READY ") for line in lines):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The OIDC provider did not start: {process.stderr.read()[-2000:]}")
        time.sleep(0.05)
    issuer = next(line for line in lines if line.startswith("READY ")).split()[1]
    provider = Provider(data, issuer, process)
    provider.initial_people = people
    yield provider
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def sso(oidc_provider, settings):
    """Gatehouse trusting the test provider, with the people as in PEOPLE."""
    from governance.oidc import config, tokens

    oidc_provider.write_people(copy.deepcopy(oidc_provider.initial_people))
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_PROVIDER_NAME = "Bank SSO"
    settings.OIDC_RP_CLIENT_ID = "gatehouse"
    settings.OIDC_RP_CLIENT_SECRET = GATEHOUSE_SECRET
    settings.OIDC_ENDPOINTS = {}
    settings.OIDC_ROLE_MAP = ROLE_MAP
    settings.OIDC_TEAM_MAP = TEAM_MAP
    settings.OIDC_API_AUDIENCE = "gatehouse-api"
    config.forget_discovery()
    tokens.forget_keys()
    yield oidc_provider
    config.forget_discovery()
    tokens.forget_keys()
