"""The README's production web command against PostgreSQL and a real S3 server, as written (one
process, eight threads: concurrent uploads share one process's S3 client) and as the README
advises for a machine with more cores (`--preload` and several workers forked from one loaded
master: the master checks the bucket before forking, and every worker must still talk to S3 on a
connection of its own)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import threading
import time
import uuid

import pytest

from bench.production import PROXY_HEADERS, PROXY_SETTINGS, gunicorn_command
from governance import services as gov
from tests import factories, s3server
from tests.integration.conftest import database_url

s3_server, s3_bucket = s3server.s3_server, s3server.s3_bucket  # the fixtures, for this module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _multipart(data: bytes, filename: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"artifact\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    return body + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("processes", [[], ["--preload", "-w", "3"]], ids=["as-written", "preloaded"])
def test_concurrent_uploads_through_the_readme_web_command_are_stored_in_s3(
        s3_bucket, tmp_path, processes):
    engineer = gov.user_create(username="pipeline", roles=["engineer"], teams=["credit"])
    _, key = gov.token_create(user=engineer)
    factories.model(engineer)
    port = _free_port()
    command, settings = gunicorn_command(port)
    assert "gthread" in command and "--threads" in command
    env = {**os.environ, **settings, **PROXY_SETTINGS, **s3_bucket.env(),
           "DATABASE_URL": database_url(), "ALLOWED_HOSTS": "127.0.0.1",
           "SECRET_KEY": "preloaded-web-test-" + "x" * 40, "GATEHOUSE_VAR_DIR": str(tmp_path)}
    log = (tmp_path / "gunicorn.log").open("wb")
    web = subprocess.Popen([*command, *processes], env=env, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    headers = {"Authorization": f"Token {key}", **PROXY_HEADERS}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/api/v1/models/", headers=headers)
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert web.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.2)
        statuses: list[int] = []

        def upload(i: int) -> None:
            data = factories.skops_bytes() + b"\0" * i  # distinct content: a new S3 object each
            body, content_type = _multipart(data, "model.skops")
            for _ in range(3):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("POST", "/api/v1/models/credit-default/versions/", body=body,
                             headers={**headers, "Content-Type": content_type})
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [201] * 12, (statuses, (tmp_path / "gunicorn.log").read_text()[-3000:])
        stored = s3_bucket.keys()
        assert len(stored) == 4  # one object per distinct artifact, written by the workers
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/v1/models/credit-default/versions/?page_size=50", headers=headers)
        versions = json.loads(conn.getresponse().read())["results"]
        assert sorted(v["version"] for v in versions) == list(range(1, 13))
    finally:
        os.killpg(web.pid, 15)
        web.wait(timeout=30)
        log.close()
