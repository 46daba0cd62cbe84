"""What a deployment gets without setting anything: persistent, health-checked database
connections; and the benches run the README's production command, not one of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.production import gunicorn_command, readme_production, readme_worker, worker_command

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


def test_bench_runs_the_readme_production_worker_not_the_development_one(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "# X\n\n```sh\n.venv/bin/celery -A config worker --concurrency=2 --beat &   # dev\n```\n\n"
        "## Production: more workers\n\n```sh\nexport DEBUG=0 SECRET_KEY=... FOO=bar\n"
        ".venv/bin/gunicorn config.wsgi --preload -w 4 -b 0.0.0.0:8000\n"
        ".venv/bin/celery -A config worker --autoscale=4,1       # on as many machines\n"
        ".venv/bin/celery -A config beat                          # exactly one scheduler\n"
        "```\n\n## Next\n"
    )
    argv, settings = readme_worker(readme)
    assert argv == [".venv/bin/celery", "-A", "config", "worker", "--autoscale=4,1"]
    assert settings == {"DEBUG": "0", "FOO": "bar"}
    command, _ = worker_command(readme)
    assert command[0] == str(ROOT / ".venv/bin/celery") and command[1:] == argv[1:]


def test_the_readme_production_block_has_a_worker_line_the_bench_runs():
    argv, settings = readme_worker()
    assert argv[:4] == [".venv/bin/celery", "-A", "config", "worker"]
    assert "--beat" not in argv and "&" not in argv
    assert settings == readme_production()[1]
