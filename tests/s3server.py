"""A real S3-compatible server on loopback for the object-storage tests: moto's standalone
server (`python -m moto.server`) in its own process, one per test session, and a fresh bucket
per test. Import the fixtures into a test module (`from tests.s3server import ...`)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "gatehouse-test", "AWS_SECRET_ACCESS_KEY": "gatehouse-test"}
REGION = "us-east-1"


@dataclass
class S3Server:
    url: str
    proc: subprocess.Popen

    def stop(self) -> None:
        """Kill the server (its whole process group): the endpoint is then down."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.url, region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


@dataclass
class Bucket:
    name: str
    server: S3Server

    def settings(self) -> dict[str, str]:
        return {"bucket": self.name, "endpoint_url": self.server.url, "region": REGION,
                "prefix": "", "connect_timeout": "2", "read_timeout": "10", "max_attempts": "2"}

    def env(self) -> dict[str, str]:
        """The variables a Gatehouse process needs to use this bucket."""
        return {"ARTIFACT_STORAGE": "s3", "ARTIFACT_S3_BUCKET": self.name,
                "ARTIFACT_S3_ENDPOINT_URL": self.server.url, "ARTIFACT_S3_REGION": REGION,
                "ARTIFACT_S3_CONNECT_TIMEOUT": "2", "ARTIFACT_S3_MAX_ATTEMPTS": "2",
                **CREDENTIALS}

    def keys(self) -> list[str]:
        listed = self.server.client().list_objects_v2(Bucket=self.name)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.server.client().get_object(Bucket=self.name, Key=key)["Body"].read()

    def write(self, key: str, data: bytes) -> None:
        self.server.client().put_object(Bucket=self.name, Key=key, Body=data)


def dead_endpoint() -> str:
    """An http URL on loopback where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def launch(log_dir: Path) -> S3Server:
    """Start a moto server on a free loopback port and wait until it answers."""
    log_path = Path(log_dir) / f"moto-{uuid.uuid4().hex[:6]}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = S3Server(url="", proc=proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited: {log_path.read_text()}")
        found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", log_path.read_text())
        if found:
            server.url = found.group(1)
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"moto server did not start: {log_path.read_text()}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = launch(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, settings, monkeypatch) -> Bucket:
    """A fresh, empty bucket that this process's artifact store now uses."""
    bucket = Bucket(name=f"gh-{uuid.uuid4().hex[:12]}", server=s3_server)
    s3_server.client().create_bucket(Bucket=bucket.name)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    settings.ARTIFACT_STORAGE = "s3"
    settings.ARTIFACT_S3 = bucket.settings()
    return bucket
