"""What a deployment gets without setting anything: persistent, health-checked database
connections; and the benches run the README's production command, not one of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.production import gunicorn_command, readme_production

ROOT = Path(__file__).resolve().parents[2]


def _database_settings(**env: str) -> dict:
    """DATABASES['default'] as a fresh process with `env` (and no DB_CONN_*) configures it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DB_CONN_")}
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "d = settings.DATABASES['default']; "
        "print(json.dumps({'age': d['CONN_MAX_AGE'], 'health': d['CONN_HEALTH_CHECKS']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_database_connections_persist_and_are_health_checked_by_default():
    assert _database_settings() == {"age": 60, "health": True}


def test_persistent_connections_can_be_turned_off():
    assert _database_settings(DB_CONN_MAX_AGE="0", DB_CONN_HEALTH_CHECKS="0") == {
        "age": 0, "health": False,
    }


def test_readme_production_block_says_connections_persist():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    assert "DB_CONN_MAX_AGE=60" in block.split("```sh", 1)[1]


def test_bench_runs_the_readme_gunicorn_command_on_loopback():
    readme_argv, settings = readme_production()
    argv, bench_settings = gunicorn_command(4321)
    assert readme_argv[0].endswith("/gunicorn") and "config.wsgi" in readme_argv
    # The README's options (workers etc.) kept; only the bind address replaced.
    kept = [w for w in readme_argv[1:] if w not in ("-b", "0.0.0.0:8000")]
    assert argv[1:] == [*kept, "-b", "127.0.0.1:4321"]
    assert bench_settings == settings and settings.get("DEBUG") == "0"
    assert "DATABASE_URL" not in settings and "SECRET_KEY" not in settings
