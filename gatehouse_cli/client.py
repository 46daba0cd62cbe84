"""HTTP to the Gatehouse API, the saved login, and what a failure means as an exit code.

Exit codes (for CI): 0 done; 1 Gatehouse refused or the thing checked failed (a 4xx other than
authentication, a failed job, a broken audit log); 2 usage or authentication (no login, a bad or
expired token, not allowed); 3 Gatehouse unreachable or a server error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import requests

EXIT_FAILED, EXIT_AUTH, EXIT_UNAVAILABLE = 1, 2, 3


class CliError(Exception):
    """A failure to report in one line, with its exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED, body: Any = None):
        super().__init__(message)
        self.message, self.exit_code, self.body = message, exit_code, body


def config_path() -> Path:
    if os.environ.get("GATEHOUSE_CONFIG"):
        return Path(os.environ["GATEHOUSE_CONFIG"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "gatehouse" / "config.json"


def save_login(url: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The token is a credential: the file is readable by its owner only, from its creation.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": url.rstrip("/"), "token": token}, fh)
    return path


def load_login() -> tuple[str, str]:
    """URL and token: GATEHOUSE_URL / GATEHOUSE_TOKEN when set, else the saved login."""
    saved: dict[str, str] = {}
    path = config_path()
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except ValueError:
            raise CliError(f"{path} is not valid JSON; run `gatehouse login` again.",
                           EXIT_AUTH) from None
    url = os.environ.get("GATEHOUSE_URL") or saved.get("url", "")
    token = os.environ.get("GATEHOUSE_TOKEN") or saved.get("token", "")
    if not url or not token:
        raise CliError("Not logged in: run `gatehouse login --url URL --token TOKEN` "
                       "(or set GATEHOUSE_URL and GATEHOUSE_TOKEN).", EXIT_AUTH)
    return url.rstrip("/"), token


class Api:
    """One authenticated session against one Gatehouse."""

    def __init__(self, url: str, token: str, timeout: float = 60):
        self.url, self.timeout = url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})

    def request(self, method: str, path: str, **kwargs) -> Any:
        try:
            response = self.session.request(
                method, self.url + path, timeout=kwargs.pop("timeout", self.timeout), **kwargs
            )
        except requests.ConnectionError:
            raise CliError(f"Cannot reach Gatehouse at {self.url}.", EXIT_UNAVAILABLE) from None
        except requests.Timeout:
            raise CliError(f"Gatehouse at {self.url} did not answer in time.",
                           EXIT_UNAVAILABLE) from None
        return _answer(response)

    def get(self, path: str, **kwargs) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Any:
        return self.request("POST", path, **kwargs)


def _answer(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code < 400:
        return body
    detail = (body or {}).get("detail") if isinstance(body, dict) else None
    detail = detail or response.reason or f"HTTP {response.status_code}"
    if response.status_code == 401:
        raise CliError(f"Authentication failed: {detail}", EXIT_AUTH, body)
    if response.status_code == 403:
        raise CliError(f"Not allowed: {detail}", EXIT_AUTH, body)
    if response.status_code >= 500:
        raise CliError(f"Gatehouse error {response.status_code}: {detail}", EXIT_UNAVAILABLE, body)
    return _refused(detail, body)


def _refused(detail: str, body: Any):
    errors = (body or {}).get("errors") if isinstance(body, dict) else None
    fields = "; ".join(
        f"{field}: {msgs[0] if isinstance(msgs, list) and msgs else msgs}"
        for field, msgs in (errors or {}).items()
    )
    message = detail if not fields or fields in detail else f"{detail} ({fields})"
    raise CliError(message, EXIT_FAILED, body)
