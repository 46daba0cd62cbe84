"""Gatehouse's registry against MLflow's registry server, side by side on one machine.

Run (PostgreSQL; the script creates and drops <name>_gh and <name>_mlflow next to the database
DATABASE_URL names, and installs MLflow into its own venv under var/bench/ on first use):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_mlflow_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/8 CELERY_RESULT_BACKEND=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/registry_vs_mlflow.py

`--only memory` sets up and starts both systems the same way but replaces the rounds by a short
warm-up (every route, from 1 and from 8 clients), then measures idle memory, per process too,
and the cold starts: a minute or two instead of ten.

MLflow: `mlflow server --workers 1` with a PostgreSQL backend store (its best configuration;
MLflow is a benchmark peer here, never a dependency of Gatehouse). Gatehouse: the README's
production gunicorn command and settings (bench/production.py) and, for the idle memory
figure, the production block's Celery worker line. Both get the same keep-alive HTTP client
(http.client, one connection per client thread), interleaved in rounds: register a version from 1 and from 8
clients, get a version, search a page of 100 of a model with 20,000 versions; then cold start
to the first answer and idle RSS (and PSS) of each process tree. Gatehouse is measured on its own API
(`/api/v1/...`) and on its MLflow-compatible endpoints with requests identical to MLflow's.
Prints each figure per round, the medians and the ratios Gatehouse / MLflow; then profiles one
registration in-process (SQL statements and their share of the time).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.production import (  # noqa: E402
    PROXY_HEADERS,
    PROXY_SETTINGS,
    describe,
    describe_worker,
    gunicorn_command,
    with_option,
    worker_command,
)

MLFLOW_VERSION = "3.17.2"  # the client's version in requirements-dev.txt
VENV = ROOT / "var" / "bench" / "mlflow-venv"
SHA = "b" * 64
SEARCH_MODEL = "search-model"
TARGET = "bench-target"
#: Cold start ends at the first answer to a real registry request, the same on both servers.
FIRST_ANSWER = "/api/2.0/mlflow/registered-models/search?max_results=1"


# --- small helpers -----------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_processes(pid: int) -> list[dict]:
    """A process and all its descendants (from /proc): pid, command, and RSS, PSS and private
    memory in MB (private = Private_Clean + Private_Dirty: pages no other process maps)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found = []
    stack = [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        row = {"pid": current, "rss": 0.0, "pss": 0.0, "private": 0.0}
        try:
            words = Path(f"/proc/{current}/cmdline").read_bytes().split(b"\0")
            row["command"] = " ".join(Path(w.decode()).name if i == 0 else w.decode()
                                      for i, w in enumerate(words[:6]) if w)[:70]
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    row["rss"] = int(line.split()[1]) / 1024
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                key = line.split(":", 1)[0]
                if key == "Pss":
                    row["pss"] = int(line.split()[1]) / 1024
                elif key in ("Private_Clean", "Private_Dirty"):
                    row["private"] += int(line.split()[1]) / 1024
        except OSError:
            continue
        found.append(row)
    return found


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process and all its descendants, in MB. RSS sums count a page shared by
    forked workers once per worker; PSS divides each shared page among its sharers, so its sum is
    the memory the tree really holds. Both are printed; the issue's target names RSS."""
    rows = tree_processes(pid)
    return sum(r["rss"] for r in rows), sum(r["pss"] for r in rows)


def print_processes(label: str, pids: list[int]) -> None:
    for pid in pids:
        for row in tree_processes(pid):
            print(f"  {label:<10} {row['pid']:>7}  RSS {row['rss']:6.1f}  PSS {row['pss']:6.1f}  "
                  f"private {row['private']:6.1f} MB  {row['command']}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class Client:
    """One keep-alive HTTP connection (reopened when a server closes it)."""

    def __init__(self, port: int, headers: dict[str, str]):
        self.port, self.headers = port, headers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data else {})}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                if response.will_close:
                    self.conn.close()
                return response.status, payload
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("not reached")


def timed(client: Client, method: str, path: str, body: dict | None, ok: int) -> float:
    t0 = time.perf_counter()
    status, payload = client.call(method, path, body)
    elapsed = (time.perf_counter() - t0) * 1000
    if status != ok:
        raise SystemExit(f"{method} {path} -> {status}: {payload[:400]!r}")
    return elapsed


def wait_for(port: int, path: str, headers: dict[str, str], proc: subprocess.Popen, what: str,
             timeout: float = 180) -> float:
    """Seconds from now until `path` answers 200."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before answering")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path, headers=headers)
            if conn.getresponse().status == 200:
                return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{what} did not answer {path} within {timeout} s")


# --- the two systems -----------------------------------------------------------------------


def ensure_mlflow() -> Path:
    binary = VENV / "bin" / "mlflow"
    if not binary.exists():
        print(f"installing mlflow=={MLFLOW_VERSION} into {VENV} (first run only)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet",
                        f"mlflow=={MLFLOW_VERSION}", "psycopg[binary]==3.3.9"], check=True)
    return binary


class Mlflow:
    name = "MLflow"

    def __init__(self, store_url: str, workdir: Path):
        self.store_url, self.workdir = store_url, workdir
        self.headers: dict[str, str] = {}
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [str(ensure_mlflow()), "server", "--backend-store-uri", self.store_url,
             "--artifacts-destination", str(self.workdir / "mlartifacts"),
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            cwd=self.workdir, stdout=(self.workdir / "mlflow.log").open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
            # The optional background job runner is off: the bench compares the registry.
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )
        return wait_for(self.port, FIRST_ANSWER, {}, self.proc, "mlflow server")

    def memory(self) -> tuple[float, float]:
        return tree_memory_mb(self.proc.pid)

    def stop(self) -> None:
        stop(self.proc)


class Gatehouse:
    name = "Gatehouse"

    def __init__(self, env: dict[str, str], token: str, workdir: Path, web_workers: int | None = None):
        self.env, self.workdir, self.web_workers = env, workdir, web_workers
        self.headers = {"Authorization": f"Token {token}", **PROXY_HEADERS}
        self.proc: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def start(self) -> float:
        self.port = free_port()
        command, settings = gunicorn_command(self.port)
        if self.web_workers:
            command = with_option(command, "-w", "--workers", str(self.web_workers))
        self.proc = subprocess.Popen(
            [*command, "--log-level", "warning"], cwd=ROOT,
            env={**self.env, **settings, **PROXY_SETTINGS},
            stdout=(self.workdir / "gunicorn.log").open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return wait_for(self.port, FIRST_ANSWER, self.headers, self.proc, "gunicorn")

    def start_worker(self) -> None:
        # The production block's worker line (bench/production.py), not the development one.
        command, settings = worker_command()
        self.worker = subprocess.Popen(
            [*command, "--loglevel", "WARNING"], cwd=ROOT,
            env={**self.env, **settings}, stdout=(self.workdir / "celery.log").open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def memory(self) -> tuple[float, float]:
        web = tree_memory_mb(self.proc.pid)
        worker = tree_memory_mb(self.worker.pid) if self.worker else (0.0, 0.0)
        return web[0] + worker[0], web[1] + worker[1]

    def stop(self) -> None:
        stop(self.proc)
        if self.worker:
            stop(self.worker)
            self.worker = None


# --- the workloads ---------------------------------------------------------------------------

MLFLOW_CREATE = {"name": TARGET, "source": "s3://bench/models/model.onnx", "run_id": "",
                 "tags": [{"key": "gatehouse.artifact_sha256", "value": SHA}]}
NATIVE_CREATE = {"artifact_uri": "s3://bench/models/model.onnx", "artifact_sha256": SHA}
ROUTES = {
    # label: (method, path, body, expected status)
    "native": {
        "register": ("POST", f"/api/v1/models/{TARGET}/versions/", NATIVE_CREATE, 201),
        "get": ("GET", f"/api/v1/models/{SEARCH_MODEL}/versions/{{n}}/", None, 200),
        "search": ("GET", f"/api/v1/models/{SEARCH_MODEL}/versions/?page_size=100&page={{page}}", None, 200),
    },
    "mlflow-api": {
        "register": ("POST", "/api/2.0/mlflow/model-versions/create", MLFLOW_CREATE, 200),
        "get": ("GET", f"/api/2.0/mlflow/model-versions/get?name={SEARCH_MODEL}&version={{n}}", None, 200),
        "search": ("GET", "/api/2.0/mlflow/model-versions/search?" + urllib.parse.urlencode(
            {"filter": f"name='{SEARCH_MODEL}'", "max_results": 100}), None, 200),
    },
}


def register_run(system, route: dict, clients: int, total: int) -> tuple[float, list[float]]:
    method, path, body, ok = route["register"]
    per = total // clients
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def work() -> None:
        client = Client(system.port, system.headers)
        timed(client, "GET", "/api/2.0/mlflow/registered-models/get?name=" + TARGET, None, 200)
        barrier.wait()
        mine = [timed(client, method, path, body, ok) for _ in range(per)]
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return per * clients / (time.perf_counter() - t0), latencies


def reads(system, route: dict, kind: str, n: int, versions: int) -> list[float]:
    method, path, body, ok = route[kind]
    client = Client(system.port, system.headers)
    timed(client, method, path.format(n=1, page=1), body, ok)  # warm the connection
    pages = max(1, versions // 100)
    return [timed(client, method, path.format(n=1 + (i * 7919) % versions, page=1 + i % pages), body, ok)
            for i in range(n)]


# --- data ---------------------------------------------------------------------------------


def recreate(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def load_mlflow(store_dsn: str, versions: int) -> None:
    """20,000 versions of one model, written into MLflow's own tables (as its server would)."""
    import psycopg

    now = int(time.time() * 1000)
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        for name in (SEARCH_MODEL, TARGET):
            conn.execute("INSERT INTO registered_models (name, creation_time, last_updated_time, "
                         "description) VALUES (%s, %s, %s, '')", [name, now, now])
        with conn.cursor().copy(
            "COPY model_versions (name, version, creation_time, last_updated_time, description, "
            "user_id, current_stage, source, run_id, status, status_message, run_link, "
            "storage_location) FROM STDIN"
        ) as copy:
            for v in range(1, versions + 1):
                copy.write_row([SEARCH_MODEL, v, now, now, "", "", "None",
                                f"s3://bench/{SEARCH_MODEL}/{v}/model.onnx", "", "READY", "", "",
                                f"s3://bench/{SEARCH_MODEL}/{v}/model.onnx"])
        conn.execute("ANALYZE")


def load_gatehouse(versions: int):
    from django.db import connection

    from governance import services as gov
    from registry import services
    from registry.models import ModelVersion, RegisteredModel
    from tests.factories import team

    user = gov.user_create(username="bench", roles=["engineer"], teams=["bench"])
    _, key = gov.token_create(user=user)
    t = team("bench")
    services.model_register(actor=user, name=TARGET, team=t)
    model = RegisteredModel.objects.create(name=SEARCH_MODEL, title=SEARCH_MODEL, team=t, owner=user,
                                           created_by=user, latest_version=versions)
    ModelVersion.objects.bulk_create(
        [ModelVersion(model=model, version=v, artifact_uri=f"s3://bench/{SEARCH_MODEL}/{v}/model.onnx",
                      artifact_sha256="a" * 64, artifact_format="onnx", created_by=user)
         for v in range(1, versions + 1)],
        batch_size=5000,
    )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return user, key


# --- the in-process profile ----------------------------------------------------------------


def profile(user, key: str, n: int = 100) -> None:
    """Where a registration's time goes: statements per request and their share of it."""
    from django.db import connection
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    for label, route in ROUTES.items():
        method, path, body, ok = route["register"]
        stats: dict[str, list[float]] = {}

        def timer(execute, sql, params, many, context, stats=stats):
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                kind = " ".join(sql.split()[:3])[:60]
                stats.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)

        total = 0.0
        for i in range(n + 5):
            if i == 5:
                stats.clear()
                total = 0.0
            t0 = time.perf_counter()
            with connection.execute_wrapper(timer):
                response = client.post(path, body, format="json")
            total += (time.perf_counter() - t0) * 1000
            assert response.status_code == ok, response.content
        count = sum(len(v) for v in stats.values()) / n
        sql_ms = sum(sum(v) for v in stats.values()) / n
        print(f"\nprofile {label} register (in-process, {n} requests): {count:.1f} statements, "
              f"{total / n:.2f} ms per request, SQL {sql_ms:.2f} ms ({100 * sql_ms / (total / n):.0f}%)")
        for kind, times in sorted(stats.items(), key=lambda kv: -sum(kv[1])):
            print(f"  {len(times) / n:4.1f} x  {sum(times) / n:6.3f} ms  {kind}")


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--registrations", type=int, default=200, help="per system, mode and round")
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--versions", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--only", choices=("memory",),
                        help="memory: the same setup and start of both systems, a short warm-up "
                             "(every route, from 1 and from --clients clients) instead of the "
                             "rounds, then idle memory (per process too) and cold starts")
    parser.add_argument("--web-workers", type=int,
                        help="A/B only: run gunicorn with -w N instead of the README's count")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL URL; <name>_gh and <name>_mlflow are recreated.")
    base, name = url.rsplit("/", 1)
    admin_url = base + "/postgres"
    gh_url, mlflow_dsn = f"{base}/{name}_gh", f"{base}/{name}_mlflow"
    recreate(admin_url, f"{name}_gh")
    recreate(admin_url, f"{name}_mlflow")
    workdir = ROOT / "var" / "bench" / "vs-mlflow"
    workdir.mkdir(parents=True, exist_ok=True)
    ensure_mlflow()

    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_CONN_")}
    env.update({"DATABASE_URL": gh_url, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0",
                "SECRET_KEY": "bench-only-secret", "LOG_LEVEL": "WARNING",
                "GATEHOUSE_VAR_DIR": str(workdir / "gatehouse-var")})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY",
                                           "GATEHOUSE_VAR_DIR")})
    import django

    django.setup()
    user, key = load_gatehouse(args.versions)

    mlflow = Mlflow(mlflow_dsn.replace("postgres://", "postgresql+psycopg://", 1), workdir)
    mlflow.start()  # creates its tables
    load_mlflow(mlflow_dsn, args.versions)
    gatehouse = Gatehouse(env, key, workdir, args.web_workers)
    gatehouse.start()

    systems = [("MLflow", mlflow, ROUTES["mlflow-api"]), ("Gatehouse", gatehouse, ROUTES["native"]),
               ("Gatehouse MLflow API", gatehouse, ROUTES["mlflow-api"])]
    rows: dict[tuple[str, str], list[float]] = {}

    def put(system: str, figure: str, value: float) -> None:
        rows.setdefault((system, figure), []).append(value)

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    print(describe())
    if args.web_workers:
        print(f"A/B: gunicorn -w {args.web_workers} instead of the README's count")
    print(describe_worker())
    if args.only == "memory":
        # Every web worker has answered requests before it is measured, as after the rounds.
        for _, system, route in systems:
            register_run(system, route, 1, 20)
            register_run(system, route, args.clients, 8 * args.clients)
            reads(system, route, "get", 20, args.versions)
            reads(system, route, "search", 8, args.versions)
        print("warm-up done (no rounds: --only memory)", flush=True)
    for r in range(1, 0 if args.only else args.rounds + 1):
        order = systems if r % 2 else list(reversed(systems))
        for label, system, route in order:
            rate1, lat1 = register_run(system, route, 1, args.registrations)
            rate8, lat8 = register_run(system, route, args.clients, args.registrations)
            got = reads(system, route, "get", args.reads, args.versions)
            found = reads(system, route, "search", max(20, args.reads // 4), args.versions)
            put(label, "register/s, 1 client", rate1)
            put(label, "register p50 ms, 1 client", pct(lat1, 50))
            put(label, "register p99 ms, 1 client", pct(lat1, 99))
            put(label, f"register/s, {args.clients} clients", rate8)
            put(label, f"register p99 ms, {args.clients} clients", pct(lat8, 99))
            put(label, "get p50 ms", pct(got, 50))
            put(label, "search 100 of 20k p50 ms", pct(found, 50))
            print(f"round {r} {label:<21} register {rate1:6.1f}/s (p50 {pct(lat1, 50):5.1f}, p99 "
                  f"{pct(lat1, 99):5.1f} ms) | {args.clients} clients {rate8:6.1f}/s (p99 "
                  f"{pct(lat8, 99):5.1f} ms) | get p50 {pct(got, 50):5.2f} ms | search p50 "
                  f"{pct(found, 50):6.1f} ms | load {os.getloadavg()[0]:.2f}", flush=True)

    # Idle memory of each process tree (Gatehouse: web + the README's production Celery worker), then
    # cold starts: the process started to its first answer, alternating.
    gatehouse.start_worker()
    time.sleep(8)
    for _ in range(3):
        time.sleep(2)
        for label, system in (("MLflow", mlflow), ("Gatehouse", gatehouse)):
            rss, pss = system.memory()
            put(label, "idle RSS MB", rss)
            put(label, "idle PSS MB", pss)
    print("idle processes:")
    print_processes("MLflow", [mlflow.proc.pid])
    print_processes("Gatehouse", [gatehouse.proc.pid, gatehouse.worker.pid])
    mlflow.stop()
    gatehouse.stop()
    for r in range(args.rounds):
        for label, system in ([("MLflow", mlflow), ("Gatehouse", gatehouse)] if r % 2 == 0
                              else [("Gatehouse", gatehouse), ("MLflow", mlflow)]):
            put(label, "cold start s", system.start())
            system.stop()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")

    print("\nmedians over rounds (Gatehouse / MLflow ratio: > 1 is more for throughput, < 1 is "
          "less for times and memory)")
    figures = list(dict.fromkeys(f for _, f in rows))
    for figure in figures:
        base_values = rows.get(("MLflow", figure))
        base = statistics.median(base_values) if base_values else None
        parts = []
        for label in ("MLflow", "Gatehouse", "Gatehouse MLflow API"):
            values = rows.get((label, figure))
            if not values:
                continue
            median = statistics.median(values)
            ratio = f" ({median / base:.2f}x)" if base and label != "MLflow" else ""
            parts.append(f"{label} {median:8.2f}{ratio}")
        print(f"{figure:<28} " + " | ".join(parts))

    if not args.only:
        profile(user, key)


if __name__ == "__main__":
    main()
