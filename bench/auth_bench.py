"""API authentication benchmark: a Gatehouse API key against an OIDC access token (JWT).

Run (SQLite under a temp folder by default; set DATABASE_URL for PostgreSQL, whose named
database must exist):
    .venv/bin/python bench/auth_bench.py [--n 2000]

Starts the test OIDC provider (tests/oidc_provider/) on loopback for a real client-credentials
token, then times `TokenAuthentication.authenticate` in-process for both kinds of credential,
interleaved, and counts the SQL queries of each. The key path must stay one query; the JWT path
adds a signature check (keys cached) and one query of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def start_provider(data: Path) -> tuple[subprocess.Popen, str]:
    people = {"users": {}, "clients": {"bench-ci": {
        "secret": "bench-secret", "grant": "client-credentials", "audience": "gatehouse-api",
        "lifetime": 3600}}}
    (data / "people.json").write_text(json.dumps(people))
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "oidc_provider" / "serve.py"), str(data)],
        stdout=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        raise SystemExit(f"provider did not start: {line!r}")
    return process, line.split()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gh-auth-bench-"))
    (tmp / "provider").mkdir()
    provider, issuer = start_provider(tmp / "provider")
    try:
        os.environ.setdefault("GATEHOUSE_VAR_DIR", str(tmp / "var"))
        os.environ.update(OIDC_ISSUER=issuer, OIDC_CLIENT_ID="gatehouse",
                          OIDC_CLIENT_SECRET="unused", OIDC_API_AUDIENCE="gatehouse-api")
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from rest_framework.request import Request
        from rest_framework.test import APIRequestFactory

        from governance import services as gov
        from governance.authentication import TokenAuthentication

        call_command("migrate", verbosity=0)
        from governance.models import ExternalIdentity, User

        user = User.objects.filter(username="bench-ci").first() or gov.user_create(
            username="bench-ci", roles=["engineer"], teams=["credit"])
        ExternalIdentity.objects.filter(subject="bench-ci").delete()  # an earlier run's issuer
        gov.external_identity_link(user=user, issuer=issuer, subject="bench-ci")
        _, key = gov.token_create(user=user)
        jwt = requests.post(issuer + "/token/", data={"grant_type": "client_credentials"},
                            auth=("bench-ci", "bench-secret"), timeout=10).json()["access_token"]
        factory, auth = APIRequestFactory(), TokenAuthentication()
        requests_by_kind = {
            "API key": Request(factory.get("/", HTTP_AUTHORIZATION=f"Token {key}")),
            "OIDC JWT": Request(factory.get("/", HTTP_AUTHORIZATION=f"Bearer {jwt}")),
        }
        for request in requests_by_kind.values():  # warm: caches, JWKS, last_used_at
            assert auth.authenticate(request)[0].username == "bench-ci"
        times: dict[str, list[float]] = {kind: [] for kind in requests_by_kind}
        for _ in range(args.n):
            for kind, request in requests_by_kind.items():
                start = time.perf_counter()
                auth.authenticate(request)
                times[kind].append((time.perf_counter() - start) * 1000)
        print(f"database: {connection.vendor}; n={args.n} each, interleaved")
        for kind, request in requests_by_kind.items():
            with CaptureQueriesContext(connection) as queries:
                auth.authenticate(request)
            ms = times[kind]
            print(f"{kind:<9} p50={pct(ms, 50):.3f} ms  p95={pct(ms, 95):.3f} ms  "
                  f"mean={statistics.fmean(ms):.3f} ms  queries={len(queries)}")
        ratio = pct(times["OIDC JWT"], 50) / pct(times["API key"], 50)
        print(f"JWT / key p50 ratio: {ratio:.2f}")
    finally:
        provider.terminate()
        provider.wait(timeout=10)


if __name__ == "__main__":
    main()
