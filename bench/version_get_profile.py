"""Where the time of `GET /api/v1/models/{name}/versions/{n}/` goes, in-process.

Run (PostgreSQL; the script recreates <name>_vget next to the database DATABASE_URL names and
loads the model of bench/registry_vs_mlflow.py: 20,000 versions, plus one version with lineage
edges, an uploaded artifact, tags and metrics):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_get \\
    CELERY_BROKER_URL=redis://127.0.0.1:6381/0 CELERY_RESULT_BACKEND=redis://127.0.0.1:6381/1 \\
        .venv/bin/python bench/version_get_profile.py [--reuse] [--n 400]

`--reuse` keeps an already loaded <name>_vget (bench/version_get_ab.py serves it over HTTP).
Settings are the README production ones (DEBUG=0) as far as an in-process client allows. For a
plain version (no edges, no artifact) and the lineage version it prints medians of: the whole
GET through the Django test client and through the WSGI application as gunicorn calls it
(middleware, auth, view, JSON), the SQL of the request (each statement, as Django's execute
wrappers see them: not the connection's health check), the planning and execution times
PostgreSQL reports for the version statement (EXPLAIN (ANALYZE, SUMMARY): an unprepared run, as
the first on a connection), the selector alone, and the rendering (`VersionOutput(...).data`,
and the JSON of it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.registry_vs_mlflow import SEARCH_MODEL, load_gatehouse, recreate  # noqa: E402

LINEAGE_DATASETS = ("bench-train", "bench-eval")


def settings_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_CONN_")}
    env.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0",
                "SECRET_KEY": "bench-only-secret", "LOG_LEVEL": "WARNING",
                "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto,https",
                "GATEHOUSE_VAR_DIR": str(ROOT / "var" / "bench" / "vget-var")})
    return env


def bench_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL URL; <name>_vget is (re)created next to it.")
    base, name = url.rsplit("/", 1)
    return f"{base}/{name}_vget"


def load(versions: int) -> None:
    """The 20,000-version model, then one more version of it with every kind of lineage edge."""
    from registry.models import RegisteredModel
    from tests.factories import dataset, dataset_version, version

    user, key = load_gatehouse(versions)
    for name in LINEAGE_DATASETS:
        ds = dataset(user, name=name, team_name="bench")
        for i in (1, 2):
            dataset_version(user, ds, csv=f"a,b,label\n{i},2,0\n3,4,1\n".encode())
    train, evaluate = LINEAGE_DATASETS
    version(  # an uploaded artifact (skops), so the artifact's row is joined too
        user, RegisteredModel.objects.get(name=SEARCH_MODEL),
        training_datasets=[f"{train}@1", f"{train}@2"], evaluation_datasets=[f"{evaluate}@2"],
        parents=[f"{SEARCH_MODEL}@7", f"{SEARCH_MODEL}@3"],
        metrics={"auc": 0.91, "f1": 0.8}, hyperparameters={"depth": 6}, tags=["bench", "lineage"],
        description="A version with lineage edges.",
    )
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "var" / "bench" / "vget-token").write_text(key)


def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def explain_ms(sql: str, params, n: int) -> tuple[float, float]:
    """Median (planning, execution) ms PostgreSQL reports for one statement."""
    from django.db import connection

    plans, execs = [], []
    with connection.cursor() as cursor:
        for _ in range(n):
            cursor.execute("EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) " + sql, params)
            report = cursor.fetchone()[0]
            report = (json.loads(report) if isinstance(report, str) else report)[0]
            plans.append(report["Planning Time"])
            execs.append(report["Execution Time"])
    return statistics.median(plans), statistics.median(execs)


def profile(number: int, label: str, key: str, n: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from rest_framework.renderers import JSONRenderer
    from rest_framework.test import APIClient

    from registry import selectors
    from registry.api.serializers import VersionOutput

    path = f"/api/v1/models/{SEARCH_MODEL}/versions/{number}/"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}", HTTP_X_FORWARDED_PROTO="https")

    def get():
        response = client.get(path)
        assert response.status_code == 200, response.content

    for _ in range(20):
        get()
    whole = median_ms(get, n)

    # As gunicorn calls it: the WSGI application with one request's environ (no test client).
    app = get_wsgi_application()
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": f"Token {key}",
        "HTTP_X_FORWARDED_PROTO": "https", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }

    def wsgi():
        status = []
        body = b"".join(app({**environ, "wsgi.input": io.BytesIO()},
                            lambda s, h, e=None: status.append(s)))
        assert status[0].startswith("200"), body[:300]

    for _ in range(20):
        wsgi()
    through_wsgi = median_ms(wsgi, n)

    statements: list[tuple[str, tuple, float]] = []

    def timer(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((sql, params, (time.perf_counter() - t0) * 1000))

    per_request: list[list[tuple[str, tuple, float]]] = []
    for _ in range(n):
        statements = []
        with connection.execute_wrapper(timer):
            get()
        per_request.append(statements)
    sql_ms = statistics.median(sum(t for _, _, t in stmts) for stmts in per_request)
    count = statistics.median(len(stmts) for stmts in per_request)
    version_sql, version_params, _ = max(per_request[-1], key=lambda s: len(s[0]))
    version_ms = statistics.median(max(stmts, key=lambda s: len(s[0]))[2] for stmts in per_request)
    planning, execution = explain_ms(version_sql, version_params, n)

    user = get_user_model().objects.get(username="bench")
    user.team_ids  # noqa: B018  (as the authentication sets it, outside the timing)
    found = selectors.version_for_api(user, SEARCH_MODEL, number)
    selector = median_ms(lambda: selectors.version_for_api(user, SEARCH_MODEL, number), n)
    render = median_ms(lambda: VersionOutput(found).data, n * 5)
    body = VersionOutput(found).data
    renderer = JSONRenderer()
    to_json = median_ms(lambda: renderer.render(body), n * 5)
    print(f"{label:<22} GET {whole:5.2f} ms (WSGI {through_wsgi:5.2f}) | SQL {sql_ms:5.2f} ms in {count:.0f} statements "
          f"(version statement {version_ms:4.2f} ms: planning {planning:4.2f}, execution "
          f"{execution:4.2f}) | selector {selector:4.2f} ms | render {render * 1000:5.1f} us, "
          f"JSON {to_json * 1000:5.1f} us", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=20_000)
    parser.add_argument("--n", type=int, default=400, help="requests per figure")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    args = parser.parse_args()

    url = bench_url()
    env = settings_env(url)
    if not args.reuse:
        base = url.rsplit("/", 1)[0]
        recreate(base + "/postgres", url.rsplit("/", 1)[1])
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env,
                       check=True)
    os.environ.update(env)
    import django

    django.setup()
    if not args.reuse:
        load(args.versions)
    key = (ROOT / "var" / "bench" / "vget-token").read_text()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; medians of {args.n} "
          f"(render and JSON: of {args.n * 5})")
    profile(1 + 7919 % args.versions, "plain version", key, args.n)
    profile(args.versions + 1, "version with lineage", key, args.n)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
