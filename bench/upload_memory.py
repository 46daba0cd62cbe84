"""Upload memory: a large dataset file POSTed to a live server must not grow the web process.

Run (SQLite in a scratch folder; `--storage s3` also starts moto's S3 server on loopback):
    .venv/bin/python bench/upload_memory.py --size-mb 2048 --storage local
    .venv/bin/python bench/upload_memory.py --size-mb 2048 --storage s3

Starts gunicorn as the README's production block does (bound to loopback, one worker process so
the figure is that worker's), warms it up with a small upload, then streams one CSV of
--size-mb through a multipart POST to /api/v1/datasets/{name}/versions/ and prints the worker's
resident memory before and its peak (VmHWM) after, the growth, the elapsed time and throughput,
and checks the server's sha256 against the client's. Target: growth < 100 MB for 2 GB.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.production import describe, gunicorn_command, with_option  # noqa: E402

BOUNDARY = "gatehouse-bench-boundary"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_csv(path: Path, size: int) -> None:
    header = b"income,debt_ratio,age,label\n"
    block = b"".join(b"%d,%.4f,%d,%d\n" % (20000 + i, (i % 97) / 97, 18 + i % 60, i % 2)
                     for i in range(20000))
    with open(path, "wb") as out:
        out.write(header)
        written = len(header)
        while written + len(block) <= size:
            out.write(block)
            written += len(block)


def proc_status(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure in bytes (VmRSS: now, VmHWM: peak since the process began)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def post_file(port: int, token: str, dataset: str, path: Path) -> tuple[int, dict, str, float]:
    """Stream `path` as the multipart `file` field; (status, body, client sha256, seconds)."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{path.name}\"\r\nContent-Type: text/csv\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    size = path.stat().st_size
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    conn.putrequest("POST", f"/api/v1/datasets/{dataset}/versions/")
    conn.putheader("Authorization", f"Token {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    conn.putheader("Content-Length", str(len(head) + size + len(tail)))
    conn.putheader("X-Forwarded-Proto", "https")
    conn.endheaders()
    digest = hashlib.sha256()
    started = time.perf_counter()
    conn.send(head)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
            conn.send(block)
    conn.send(tail)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = {"raw": body[:300].decode(errors="replace")}
    return response.status, parsed, digest.hexdigest(), elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=2048)
    parser.add_argument("--storage", choices=["local", "s3"], default="local")
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024

    scratch = Path(tempfile.mkdtemp(prefix="gatehouse-upload-bench-"))
    moto = None
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_CONN_", "ARTIFACT_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1",
            "GATEHOUSE_VAR_DIR": str(scratch / "var"),
            "DATABASE_URL": f"sqlite:///{scratch / 'bench.sqlite3'}",
            "ARTIFACT_ROOT": str(scratch / "artifacts"), "MAX_ARTIFACT_BYTES": str(size + 2**20),
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto,https",
        })
        if args.storage == "s3":
            from tests.s3server import CREDENTIALS, REGION, launch

            moto = launch(scratch)
            moto.client().create_bucket(Bucket="gatehouse-bench")
            env.update({"ARTIFACT_STORAGE": "s3", "ARTIFACT_S3_BUCKET": "gatehouse-bench",
                        "ARTIFACT_S3_ENDPOINT_URL": moto.url, "ARTIFACT_S3_REGION": REGION,
                        **CREDENTIALS})
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env,
                       check=True)
        setup = (
            "import django; django.setup()\n"
            "from governance import services as gov\n"
            "from registry import services\nfrom tests.factories import team\n"
            "u = gov.user_create(username='bench', roles=['engineer'], teams=['bench'])\n"
            "services.dataset_register(actor=u, name='bench-data', team=team('bench'))\n"
            "print(gov.token_create(user=u)[1])\n"
        )
        token = subprocess.run([sys.executable, "-c", setup], cwd=ROOT, env=env, check=True,
                               capture_output=True, text=True).stdout.strip().splitlines()[-1]

        data = scratch / "big.csv"
        started = time.perf_counter()
        write_csv(data, size)
        print(f"wrote {data.stat().st_size / 2**20:.0f} MiB of CSV in "
              f"{time.perf_counter() - started:.1f} s")
        small = scratch / "small.csv"
        write_csv(small, 2 * 1024 * 1024)

        port = free_port()
        command, production = gunicorn_command(port)
        # One worker (the README's count), so the figure is the process that handled the upload; a long
        # timeout, since a 2 GB body takes longer than gunicorn's default 30 s to arrive.
        command = with_option(command, "-w", "--workers", "1")
        command += ["--timeout", "900", "--log-level", "warning"]
        server = subprocess.Popen(command, cwd=ROOT, env={**env, **production})
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema/", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            status, body, _, _ = post_file(port, token, "bench-data", small)
            assert status == 201, (status, body)
            (pid,) = worker_pids(server.pid)
            before = proc_status(pid, "VmRSS")
            # Reset the peak so VmHWM is the upload's alone (Linux: "5" clears the high-water mark).
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            status, body, sha, elapsed = post_file(port, token, "bench-data", data)
            peak = proc_status(pid, "VmHWM")
            after = proc_status(pid, "VmRSS")
        finally:
            server.terminate()
            server.wait(timeout=60)
        print(describe() + f"  [bench: -w 1 --timeout 900, ARTIFACT_STORAGE={args.storage}]")
        # The memory figures hold whatever the answer was (the whole body was streamed in).
        print(f"web worker RSS before {before / 2**20:.0f} MiB, peak during upload "
              f"{peak / 2**20:.0f} MiB, after {after / 2**20:.0f} MiB: growth "
              f"{(peak - before) / 2**20:.1f} MiB (target < 100 MiB)")
        if status != 201:
            raise SystemExit(f"upload answered {status} after {elapsed:.1f} s: {body}")
        assert body["sha256"] == sha, (body["sha256"], sha)
        print(f"upload of {size / 2**20:.0f} MiB: 201 in {elapsed:.1f} s "
              f"({size / 2**20 / elapsed:.0f} MiB/s), sha256 matches, {body['row_count']} rows")
    finally:
        if moto is not None:
            moto.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
