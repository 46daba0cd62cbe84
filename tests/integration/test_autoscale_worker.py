"""The README's production worker line (`celery -A config worker --autoscale=4,0`) runs
Gatehouse's evidence jobs: idle, the worker is one process; jobs submitted through the API fork
pool processes (more than one when several tasks are queued) and finish; after the keepalive the
pool is given back, and the next job forks it again."""

from __future__ import annotations

import threading
import time

import pytest

from bench.production import readme_worker
from tests.integration import jobdata
from tests.integration.conftest import broker_url, wait_for

pytestmark = pytest.mark.integration

KEEPALIVE = 2  # seconds: AUTOSCALE_KEEPALIVE, read by Celery's autoscaler (30 by default)

#: Why the test does not run on kombu's filesystem broker (the embedded default).
FILESYSTEM_BROKER_HANGS = (
    "--autoscale=N,0 hangs on kombu's filesystem broker: that transport has no event loop, so "
    "the worker runs billiard's threaded pool, whose processes share one task pipe and one "
    "result pipe, each behind a lock shared by all of them; scaling down terminates pool "
    "processes and sometimes leaves one of those locks taken: every pool process forked "
    "afterwards waits on it forever (the next job never starts), or a process told to exit "
    "never does. Seen with this worker in 5 runs of 5, and with a bare Celery 5.7 app (rounds "
    "of 4 one-second tasks, keepalive 1 s) in 2 runs of 7. "
    "Redis, the production broker, runs the event loop's pool (pipes per process): run this "
    "test with CELERY_BROKER_URL=redis://...")


def _readme_pool() -> tuple[list[str], dict[str, str], int, int]:
    """The pool arguments and settings of the README's production worker line, and its
    `--autoscale=MAX,MIN` bounds."""
    argv, settings = readme_worker()
    assert argv[1:4] == ["-A", "config", "worker"], argv
    pool = argv[4:]
    autoscale = [word.partition("=")[2] for word in pool if word.startswith("--autoscale=")]
    assert len(autoscale) == 1, f"the README's worker line does not autoscale: {argv}"
    most, _, least = autoscale[0].partition(",")
    return pool, settings, int(most), int(least or 0)


def _start(client, mv, payload) -> int:
    url = f"/api/v1/models/{mv.model.name}/versions/{mv.version}/jobs/"
    response = client.post(url, payload, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


class _PoolWatch:
    """Every pid the worker had as a child while watched, and the most at once."""

    def __init__(self, worker) -> None:
        self.worker, self.seen, self.most = worker, set(), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.worker.proc is None or self.worker.proc.poll() is not None:
                return
            pids = self.worker.pool_pids()
            self.seen |= pids
            self.most = max(self.most, len(pids))
            self._stop.wait(0.1)

    def __enter__(self) -> _PoolWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_the_readme_production_worker_forks_its_pool_for_jobs_and_gives_it_back(
    personas, client_for, start_worker, job_done
):
    if broker_url().startswith("filesystem://"):
        pytest.skip(FILESYSTEM_BROKER_HANGS)
    pool, settings, most, least = _readme_pool()
    eng = personas["engineer"]
    df = jobdata.credit(n=500)
    dv = jobdata.upload_dataset(eng, df)
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=dv)
    client = client_for("engineer")
    worker = start_worker(pool=pool, extra_env={
        **settings, "SECRET_KEY": "autoscale-worker-test-" + "x" * 40,
        "AUTOSCALE_KEEPALIVE": str(KEEPALIVE)})

    # Ready and idle: the worker is one process, with no pool process (--autoscale=4,0; `least`
    # processes if the README keeps some), sampled for a second.
    for _ in range(5):
        assert len(worker.pool_pids()) == least, worker.log()
        time.sleep(0.2)

    # Two jobs at once, one of them chunked (a chord of 4 chunks and its merge): the worker has
    # more queued tasks than processes, so it forks more than one.
    with _PoolWatch(worker) as watch:
        shap_id = _start(client, mv, {"kind": "shap", "dataset": dv.ref,
                                      "params": {"sample_size": 10}})
        fair_id = _start(client, mv, {"kind": "fairness", "dataset": dv.ref, "params": {
            "label_column": "default", "threshold": 0.3, "chunk_rows": 150}})
        shap_job = job_done(shap_id, timeout=120, workers=[worker])
        fair_job = job_done(fair_id, timeout=120, workers=[worker])

    assert shap_job.status == "succeeded", shap_job.error_detail
    assert fair_job.status == "succeeded", fair_job.error_detail
    assert fair_job.result["chunks"] == 4
    assert watch.most >= min(2, most), (watch.most, worker.log())
    assert watch.most <= most, (watch.most, worker.log())
    # The chunks ran in the worker's forked pool processes, not in the worker itself.
    chunk_pids = {run["pid"] for run in fair_job.result["chunk_runs"]}
    assert chunk_pids <= watch.seen and worker.proc.pid not in chunk_pids, (
        chunk_pids, watch.seen)

    # After the keepalive with nothing to do, the pool is given back: one process again.
    wait_for(lambda: len(worker.pool_pids()) == least, timeout=KEEPALIVE * 3 + 10,
             what=f"the pool to scale down to {least} processes")
    assert worker.proc.poll() is None

    # ...and a job arriving at the idle worker forks a pool process again.
    again = job_done(_start(client, mv, {"kind": "shap", "dataset": dv.ref,
                                          "params": {"sample_size": 10}}),
                     timeout=120, workers=[worker])
    assert again.status == "succeeded", again.error_detail
