"""Portal benchmark: the inventory, dashboard and audit log pages at 10,000 models.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_portal .venv/bin/python bench/portal_bench.py

Runs in its own throwaway test database (created, migrated and dropped here). Seeds N models with
--versions versions each (2 by default) and a few open findings in bulk (benchmark data, not through the services),
then renders pages through Django's test client signed in as a validator. Prints p50/p95 latency
and the SQL query count of each page (which must not depend on N or on the page size).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_databases,
    setup_test_environment,
    teardown_databases,
)


def seed(n: int, versions: int) -> None:
    from governance import services as gov
    from governance.models import Team, User
    from oversight.models import Finding
    from registry.models import ModelVersion, RegisteredModel

    gov.user_create(username="bench-validator", roles=["validator"], teams=["risk"])
    owner = User.objects.get(username="bench-validator")
    teams = [Team.objects.get_or_create(name=f"team-{i}")[0] for i in range(20)]
    RegisteredModel.objects.bulk_create(
        [RegisteredModel(name=f"model-{i:05d}", title=f"Model {i}", team=teams[i % 20], owner=owner,
                         risk_tier=(i % 4) or None, latest_version=versions) for i in range(n)],
        batch_size=5000,
    )
    ids = list(RegisteredModel.objects.values_list("pk", flat=True))
    stages = ["development", "staging", "archived"]
    ModelVersion.objects.bulk_create(
        [ModelVersion(model_id=pk, version=v, artifact_sha256="ab" * 32, stage=stages[(pk + v) % 3])
         for pk in ids for v in range(1, versions + 1)],
        batch_size=5000,
    )
    Finding.objects.bulk_create(
        [Finding(model_id=pk, title="bench", severity="high", opened_by=owner) for pk in ids[::50]]
    )


def measure(client: Client, url: str, runs: int) -> tuple[float, float, int]:
    client.get(url)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    times.sort()
    if os.environ.get("BENCH_SQL"):
        for q in sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:3]:
            print(f"   {q['time']}s {q['sql'][:300]}")
    return statistics.median(times), times[int(len(times) * 0.95) - 1], len(ctx.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=2, help="versions per model")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        t0 = time.perf_counter()
        seed(args.models, args.versions)
        print(f"seeded {args.models} models × {args.versions} versions in {time.perf_counter() - t0:.1f}s on {connection.vendor}")
        from governance.models import User

        client = Client()
        client.force_login(User.objects.get(username="bench-validator"))
        pages = [
            "/models/", "/models/?page_size=200", "/models/?ordering=-updated_at&page=40",
            "/models/?search=model-09&risk_tier=1", "/models/?stage=staging&has_open_findings=true",
            "/models/?review_overdue=false&team=team-3", "/", "/audit/",
        ]
        print(f"{'page':<55} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
        for url in pages:
            p50, p95, queries = measure(client, url, args.runs)
            print(f"{url:<55} {p50:8.1f} {p95:8.1f} {queries:8d}")
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
