"""The production configuration the README documents, as the benches run it.

The benches start Gatehouse exactly as the README's "Production" block says (its gunicorn line,
its Celery worker line and its exported settings, nothing of their own), so docs/BENCHMARKS.md describes what users
run. Only what must differ on a bench machine is replaced: the bind address (loopback, a free
port), the database and broker URLs, the secret key and the allowed hosts.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
#: Settings the bench must choose itself (where things are, and secrets); all others come from
#: the README's block as written.
BENCH_OWNED = {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SECRET_KEY",
               "ALLOWED_HOSTS"}


def _production_block(text: str) -> list[str]:
    section = re.search(r"^## Production.*?$(.*?)^## ", text, flags=re.S | re.M)
    if section is None:
        raise SystemExit("README.md has no '## Production' section to take the configuration from.")
    block = re.search(r"```sh\n(.*?)```", section.group(1), flags=re.S)
    if block is None:
        raise SystemExit("README.md's Production section has no ```sh block.")
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]


def _production_commands(readme: Path) -> tuple[list[str] | None, list[str] | None,
                                                  dict[str, str]]:
    """(gunicorn argv, Celery worker argv, settings) as the production block writes them."""
    gunicorn: list[str] | None = None
    worker: list[str] | None = None
    settings: dict[str, str] = {}
    for line in _production_block(readme.read_text()):
        words = shlex.split(line) if line else []
        if words[:1] == ["export"]:
            for word in words[1:]:
                key, _, value = word.partition("=")
                if key not in BENCH_OWNED:
                    settings[key] = value
        elif words and words[0].endswith("/gunicorn"):
            gunicorn = words
        elif words and words[0].endswith("/celery") and "worker" in words[1:]:
            worker = words
    return gunicorn, worker, settings


def readme_production(readme: Path = README) -> tuple[list[str], dict[str, str]]:
    """(gunicorn argv, settings) from the README's production block. The argv starts with the
    `.venv/bin/gunicorn` path as written; settings are the `export`ed variables the bench does
    not own."""
    argv, _, settings = _production_commands(readme)
    if argv is None:
        raise SystemExit("README.md's production block has no gunicorn command.")
    return argv, settings


def readme_worker(readme: Path = README) -> tuple[list[str], dict[str, str]]:
    """(Celery worker argv, settings) from the README's production block: its
    `.venv/bin/celery -A config worker ...` line as written (not the development line of the
    raw-commands block above it, which also embeds the scheduler)."""
    _, argv, settings = _production_commands(readme)
    if argv is None:
        raise SystemExit("README.md's production block has no `celery ... worker` command.")
    return argv, settings


def worker_command(readme: Path = README) -> tuple[list[str], dict[str, str]]:
    """The README's production Celery worker command with an absolute `.venv/` path, and the
    settings to run it with."""
    argv, settings = readme_worker(readme)
    return _absolute(argv), settings


def _absolute(argv: list[str]) -> list[str]:
    """`argv` with the README's relative `.venv/` program path made absolute."""
    return [str(ROOT / argv[0]) if argv[0].startswith(".venv/") else argv[0], *argv[1:]]


def with_option(argv: list[str], short: str, long: str, value: str) -> list[str]:
    """`argv` with every `short VALUE`, `long VALUE` and `long=VALUE` replaced by one
    `short value` at the end (the bind address, an A/B's worker count)."""
    out: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in (short, long):
            skip = True
        elif not word.startswith(f"{long}="):
            out.append(word)
    return [*out, short, value]


def gunicorn_command(port: int, readme: Path = README) -> tuple[list[str], dict[str, str]]:
    """The README's gunicorn command bound to 127.0.0.1:`port`, and the settings to run it with."""
    argv, settings = readme_production(readme)
    return with_option(_absolute(argv), "-b", "--bind", f"127.0.0.1:{port}"), settings


def describe(readme: Path = README) -> str:
    """One line for the bench output: the command and settings taken from the README."""
    argv, settings = readme_production(readme)
    shown = " ".join(f"{k}={v}" for k, v in sorted(settings.items()))
    return f"README production: {' '.join(argv)}  ({shown or 'no extra settings'})"


def describe_worker(readme: Path = README) -> str:
    """One line for the bench output: the worker command taken from the README."""
    argv, _ = readme_worker(readme)
    return f"README production worker: {' '.join(argv)}"


#: Production runs behind a TLS-terminating proxy (the README's settings table); the bench
#: client stands in for it on loopback: the setting that trusts the proxy's header, and the
#: header itself on every request (otherwise DEBUG=0 redirects plain HTTP to HTTPS).
PROXY_SETTINGS = {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto,https"}
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}
