"""A real Celery worker process for integration tests, sharing the test database and storage.

The worker runs `celery -A config worker` in its own process group (so a test can SIGKILL it and
teardown always kills it), against the test database (a file on SQLite; the test database on
PostgreSQL), the test's broker (kombu's filesystem transport in a private folder locally; the
CI Redis, purged first), and shared ARTIFACT_ROOT / JOB_OUTPUT_ROOT folders.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
CELERY = str(Path(sys.executable).with_name("celery"))


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db.get("USER") or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def broker_url() -> str:
    """The broker the tests' workers use: the CI's Redis, or kombu's filesystem transport."""
    return os.environ.get("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)


#: The pool the tests' workers run unless a test gives its own (`start_worker(pool=...)`).
DEFAULT_POOL = ["--pool=prefork", "--concurrency=1"]


class Worker:
    """One `celery worker` subprocess; `kill()` SIGKILLs its whole process group. `pool` are the
    worker's pool arguments (DEFAULT_POOL unless given, e.g. the README's `--autoscale=4,0`)."""

    def __init__(
        self, env: dict[str, str], name: str, log_path: Path, extra: list[str] | None = None,
        pool: list[str] | None = None,
    ) -> None:
        self.env, self.name, self.log_path = env, name, log_path
        self.extra = list(extra or [])
        self.pool = list(DEFAULT_POOL if pool is None else pool)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> Worker:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            [CELERY, "-A", "config", "worker", *self.pool,
             "-n", self.name, "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel=INFO", *self.extra],
            cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log()}")
            if b" ready." in self.log_path.read_bytes():
                return self
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"celery worker did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def pool_pids(self) -> set[int]:
        """The worker's child processes now (its pool: prefork forks them from the worker)."""
        assert self.proc is not None and self.proc.poll() is None, self.log()
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended while being read
            if int(fields[1]) == self.proc.pid:
                children.add(int(stat.parent.name))
        return children

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        self.kill()
        if getattr(self, "_log", None):
            self._log.close()


def _configure_test_app(broker_root: Path | None, backend: str) -> None:
    """Point this process's Celery producer at the worker's broker (settings were read before
    this fixture could set the environment)."""
    from config.celery import app

    if broker_root is not None:
        app.conf.broker_transport_options = {
            "data_folder_in": str(broker_root / "queue"),
            "data_folder_out": str(broker_root / "queue"),
            "processed_folder": str(broker_root / "processed"),
            "control_folder": str(broker_root / "control"),
            "store_processed": False,
        }
        for sub in ("queue", "processed", "control"):
            (broker_root / sub).mkdir(parents=True, exist_ok=True)
        # Pools are looked up by connection parameters: drop the cached ones so the next send
        # builds a connection with these transport options (kombu keeps the old pool for others).
        app._pool = None
        app.amqp._producer_pool = None
    app.conf.result_backend = backend
    # The backend object is built once and cached (on the app, or per thread); an earlier
    # `.delay()` in this process would keep reading results from the previous test's place.
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture(scope="module")
def worker_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("worker")
    for sub in ("artifacts", "job-output", "var", "results"):
        (root / sub).mkdir()
    return root


@pytest.fixture
def shared_storage(worker_dirs, settings):
    """Artifacts and job outputs where the worker looks for them."""
    settings.ARTIFACT_ROOT = worker_dirs / "artifacts"
    settings.JOB_OUTPUT_ROOT = worker_dirs / "job-output"
    return worker_dirs


@pytest.fixture
def start_worker(transactional_db, shared_storage):
    """start_worker(name=None, beat=False, extra_env=None, pool=None) -> a ready Worker; all are
    killed at teardown."""
    root = shared_storage
    broker = broker_url()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "ARTIFACT_ROOT": str(settings.ARTIFACT_ROOT),
        "JOB_OUTPUT_ROOT": str(settings.JOB_OUTPUT_ROOT),
        "GATEHOUSE_VAR_DIR": str(root / "var"),
        "JOB_HEARTBEAT_SECONDS": "0.5",
        "JOB_STALE_AFTER": "4",
        "JOB_RETRY_BACKOFF_SECONDS": "0.5",
        "DRIFT_SCHEDULE_ENABLED": "0",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    if broker.startswith("filesystem://"):
        broker_root = root / f"broker-{uuid.uuid4().hex[:8]}"
        backend = f"file://{root / 'results'}"
        env.update(CELERY_BROKER_URL="filesystem://", CELERY_FILESYSTEM_ROOT=str(broker_root),
                   CELERY_RESULT_BACKEND=backend)
        _configure_test_app(broker_root, backend)
    else:
        backend = os.environ.get("CELERY_RESULT_BACKEND", settings.CELERY_RESULT_BACKEND)
        env.update(CELERY_BROKER_URL=broker, CELERY_RESULT_BACKEND=backend)
        _configure_test_app(None, backend)
        from config.celery import app

        app.control.purge()
    started: list[Worker] = []

    def _start(
        name: str | None = None, *, beat: bool = False, extra_env: dict[str, str] | None = None,
        pool: list[str] | None = None,
    ) -> Worker:
        """beat=True embeds the scheduler (the deployment's `celery beat`) in this worker;
        `extra_env` overrides this worker's variables (its own storage folders, S3...); `pool`
        replaces the default `--pool=prefork --concurrency=1` (e.g. `["--autoscale=4,0"]`)."""
        name = name or f"itest-{uuid.uuid4().hex[:8]}@%h"
        tag = uuid.uuid4().hex[:6]
        extra = ["--beat", "--schedule", str(root / "var" / f"beat-{tag}")] if beat else []
        worker = Worker({**env, **(extra_env or {})}, name, root / f"worker-{tag}.log", extra,
                        pool)
        started.append(worker)
        return worker.start()

    yield _start
    for worker in started:
        worker.stop()
    from config.celery import app

    if not broker.startswith("filesystem://"):
        app.control.purge()


def wait_for(predicate, *, timeout: float = 120, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def job_done():
    """job_done(job_id, timeout) -> the Job once it is finished (fails the test on timeout)."""
    from explainability.models import Job

    def _wait(job_id: int, timeout: float = 180, workers: list[Worker] | None = None):
        def finished():
            job = Job.objects.get(pk=job_id)
            return job if job.is_finished else None

        try:
            return wait_for(finished, timeout=timeout, what=f"job {job_id} to finish")
        except AssertionError:
            logs = "\n".join(w.log() for w in workers or [])
            raise AssertionError(f"job {job_id} did not finish: {Job.objects.get(pk=job_id).__dict__}\n{logs}") from None

    return _wait
