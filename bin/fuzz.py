"""Fuzz the REST API with schemathesis against a real server on demo data (`make fuzz`).

Starts Gatehouse as production runs it (gunicorn, DEBUG=0) on a fresh database under a temporary
folder, loads the demo (so the schema's path examples name real objects: credit-default-gbm,
version 1, ...), creates an API token for the demo's model owner, and runs schemathesis over
/api/schema/ with every check, in the examples, coverage, fuzzing and stateful phases (stateful
follows the schema's links: what a create returns feeds the detail calls). Exit status is
schemathesis's: 0 only with no server error and no schema violation.

    .venv/bin/python bin/fuzz.py [--max-examples N] [--phases examples,coverage,fuzzing,stateful]
                                 [--checks all|not_a_server_error,...] [schemathesis options...]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the server did not answer {url} within {seconds} s")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-examples", default="25")
    parser.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    parser.add_argument("--checks", default="all")
    parser.add_argument("--user", default="omar", help="demo user whose token the run uses")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args, extra = parser.parse_known_args(argv)

    var = Path(tempfile.mkdtemp(prefix="gatehouse-fuzz-"))
    env = {
        **os.environ,
        "GATEHOUSE_VAR_DIR": str(var),
        "DEBUG": "0",
        "SECRET_KEY": "fuzz-only-" + os.urandom(16).hex(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "DRIFT_SCHEDULE_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)  # a fresh SQLite database under the temporary folder
    manage = [str(BIN / "python"), "manage.py"]
    run = dict(cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], **run)
    subprocess.run([*manage, "load_demo"], **run, stdout=subprocess.DEVNULL)
    token = subprocess.run(
        [*manage, "create_token", args.user, "--name", "fuzz"], **run, capture_output=True,
        text=True,
    ).stdout.strip().splitlines()[-1]

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2",
         "--log-level", "warning", "--error-logfile", str(var / "gunicorn.log")],
        cwd=ROOT, env=env,
    )
    try:
        _wait(base + "/api/schema/", server)
        command = [
            str(BIN / "st"), "run", base + "/api/schema/",
            "--header", f"Authorization: Token {token}",
            "--checks", args.checks,
            "--phases", args.phases,
            "--max-examples", args.max_examples,
            "--workers", "2",
            "--seed", "1",
            "--report", "junit",
            "--report-dir", str(var / "report"),
            *extra,
        ]
        print("$", " ".join(c if "Token" not in c else "Authorization: Token ***" for c in command))
        status = subprocess.run(command, cwd=ROOT, env=env).returncode
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"server log: {var / 'gunicorn.log'}; reports: {var / 'report'}")
    if not args.keep and status == 0:
        import shutil

        shutil.rmtree(var, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
