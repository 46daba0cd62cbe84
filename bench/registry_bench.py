"""Registry benchmark: registration over HTTP, and list/search/lineage at 100k versions/edges.

Run (PostgreSQL, a scratch database that this script creates and drops):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gatehouse_bench .venv/bin/python bench/registry_bench.py

Prints p50/p95/p99 latencies and throughput, plus the SQL query count of a list page at two page
sizes (it must not grow with the page). Targets on a 2-core machine: register p50 <= 15 ms,
list p95 <= 40 ms, lineage (5 hops) <= 30 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.production import PROXY_HEADERS, PROXY_SETTINGS, describe, gunicorn_command  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(name: str, ms: list[float]) -> str:
    return (f"{name:<34} n={len(ms):>5}  p50={pct(ms, 50):7.2f} ms  p95={pct(ms, 95):7.2f} ms  "
            f"p99={pct(ms, 99):7.2f} ms  mean={statistics.fmean(ms):7.2f} ms")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--registrations", type=int, default=300)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database (it is dropped and recreated).")
    dbname = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_CONN_")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0",
                "SECRET_KEY": "bench-only-secret", "LOG_LEVEL": "WARNING"})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from governance import services as gov
    from registry import services
    from registry.choices import EdgeKind
    from registry.models import LineageEdge, ModelVersion, RegisteredModel
    from tests.factories import team

    engineer = gov.user_create(username="bench", roles=["engineer", "validator"], teams=["bench"])
    _, key = gov.token_create(user=engineer)
    t = team("bench")
    ds = services.dataset_register(actor=engineer, name="bench-data", team=t)
    dv = services.dataset_version_register(actor=engineer, dataset=ds, uri="s3://b/d", sha256="e" * 64)

    # --- bulk data: 1,000 models × 100 versions, chained derived_from edges + trained_on edges
    started = time.perf_counter()
    n_models = max(1, args.versions // 100)
    RegisteredModel.objects.bulk_create(
        [RegisteredModel(name=f"model-{i:05d}", title=f"Model {i}", team=t, owner=engineer,
                         description="credit scoring" if i % 10 == 0 else "fraud detection",
                         risk_tier=1 + i % 3, created_by=engineer, latest_version=100)
         for i in range(n_models)],
        batch_size=2000,
    )
    model_ids = list(RegisteredModel.objects.order_by("pk").values_list("pk", flat=True))
    batch = []
    for mid in model_ids:
        for v in range(1, 101):
            batch.append(ModelVersion(model_id=mid, version=v, artifact_uri=f"s3://m/{mid}/{v}",
                                      artifact_sha256="a" * 64, artifact_format="onnx", created_by=engineer,
                                      stage="production" if v == 100 else "development"))
        if len(batch) >= 20000:
            ModelVersion.objects.bulk_create(batch, batch_size=5000)
            batch = []
    ModelVersion.objects.bulk_create(batch, batch_size=5000)
    edges = []
    rows = ModelVersion.objects.order_by("model_id", "version").values_list("pk", "model_id", "version")
    prev: dict[int, int] = {}
    for pk, mid, v in rows.iterator(chunk_size=20000):
        if v == 1:
            edges.append(LineageEdge(kind=EdgeKind.TRAINED_ON, upstream_dataset=dv, downstream_model_id=pk))
        else:
            edges.append(LineageEdge(kind=EdgeKind.DERIVED_FROM, upstream_model_id=prev[mid], downstream_model_id=pk))
        prev[mid] = pk
    LineageEdge.objects.bulk_create(edges, batch_size=10000)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"loaded {ModelVersion.objects.count()} versions, {LineageEdge.objects.count()} edges "
          f"in {time.perf_counter() - started:.1f} s")

    # --- HTTP: gunicorn exactly as the README's production block runs it, on loopback
    port = free_port()
    command, production_settings = gunicorn_command(port)
    server = subprocess.Popen(
        [*command, "--log-level", "warning"], cwd=ROOT,
        env={**env, **production_settings, **PROXY_SETTINGS},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(urllib.request.Request(
                    base + "/api/schema/", headers=PROXY_HEADERS), timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        headers = {"Authorization": f"Token {key}", **PROXY_HEADERS}

        def get(path: str) -> float:
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers)) as r:
                    r.read()
            except urllib.error.HTTPError as exc:
                raise SystemExit(f"GET {path} -> {exc.code}: {exc.read()[:300]!r}") from exc
            return (time.perf_counter() - t0) * 1000

        reg_model = services.model_register(actor=engineer, name="bench-target", team=t)
        payload = json.dumps({"artifact_uri": "s3://m/x.onnx", "artifact_sha256": "b" * 64,
                              "training_datasets": ["bench-data@1"], "parents": ["model-00000@100"],
                              "hyperparameters": {"depth": 3}, "metrics": {"auc": 0.8}}).encode()
        reg_ms = []
        t_start = time.perf_counter()
        for _ in range(args.registrations):
            req = urllib.request.Request(base + "/api/v1/models/bench-target/versions/", data=payload,
                                         headers={**headers, "Content-Type": "application/json"}, method="POST")
            t0 = time.perf_counter()
            with urllib.request.urlopen(req) as r:
                assert r.status == 201
            reg_ms.append((time.perf_counter() - t0) * 1000)
        reg_rate = args.registrations / (time.perf_counter() - t_start)
        assert reg_model.versions.count() == args.registrations

        pages = max(1, n_models // 50)
        small_pages = max(1, n_models // 3 // 50)  # a third of the models match tier/stage filters
        list_ms = [get(f"/api/v1/models/?page={1 + i % pages}&page_size=50") for i in range(args.requests)]
        stage_ms = [get(f"/api/v1/models/?stage=production&risk_tier=1&page={1 + i % small_pages}")
                    for i in range(args.requests)]
        search_ms = [get(f"/api/v1/models/?search=credit&page_size=50&page={1 + i % max(1, n_models // 10 // 50)}")
                     for i in range(args.requests)]
        vlist_ms = [get(f"/api/v1/models/model-{i % n_models:05d}/versions/?page_size=50") for i in range(args.requests)]
        lin5_ms = [get(f"/api/v1/lineage/?node=model:model-{i % n_models:05d}@100&direction=upstream&depth=5")
                   for i in range(args.requests)]
        lin_down_ms = [get("/api/v1/lineage/?node=dataset:bench-data@1&direction=downstream&depth=1")
                       for _ in range(max(10, args.requests // 10))]
    finally:
        server.terminate()
        server.wait(10)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.get("/api/v1/models/?page_size=5")
    counts = {}
    for size in (5, 200):
        with CaptureQueriesContext(connection) as ctx:
            client.get(f"/api/v1/models/?page_size={size}")
        counts[size] = len(ctx.captured_queries)
    vcounts = {}
    for size in (5, 100):
        with CaptureQueriesContext(connection) as ctx:
            client.get(f"/api/v1/models/model-00001/versions/?page_size={size}")
        vcounts[size] = len(ctx.captured_queries)

    print(f"\nPostgreSQL, {ModelVersion.objects.count()} versions, {LineageEdge.objects.count()} edges, "
          f"{n_models} models; {os.cpu_count()} CPUs")
    print(describe())
    print(summary("register version (POST, JSON)", reg_ms) + f"  {reg_rate:.0f} ops/s")
    print(summary("list models (page of 50)", list_ms))
    print(summary("list models stage+tier filter", stage_ms))
    print(summary("search models", search_ms))
    print(summary("list versions of a model (50)", vlist_ms))
    print(summary("lineage upstream, 5 hops", lin5_ms))
    print(summary("lineage dataset downstream (1k)", lin_down_ms))
    print(f"SQL queries per models list page: page_size=5 -> {counts[5]}, page_size=200 -> {counts[200]}")
    print(f"SQL queries per versions list page: page_size=5 -> {vcounts[5]}, page_size=100 -> {vcounts[100]}")
    print(f"targets: register p50 {pct(reg_ms, 50):.1f} ms (<=15), list p95 {pct(list_ms, 95):.1f} ms (<=40), "
          f"lineage 5 hops p95 {pct(lin5_ms, 95):.1f} ms (<=30)")


if __name__ == "__main__":
    main()
