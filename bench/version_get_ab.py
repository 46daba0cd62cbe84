"""A/B over HTTP: `GET /api/v1/models/{name}/versions/{n}/` from two checkouts of Gatehouse.

Both run the README's production command (bench/production.py: `gunicorn config.wsgi --preload
-w 4`, DEBUG=0) on the same database, the one bench/version_get_profile.py loads (run it first;
20,000 versions and one with lineage edges). One keep-alive http.client per server, batches
alternating between the two servers (and which goes first), so both see the same machine:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_get \\
    CELERY_BROKER_URL=redis://127.0.0.1:6381/0 CELERY_RESULT_BACKEND=redis://127.0.0.1:6381/1 \\
        .venv/bin/python bench/version_get_ab.py --a /work/main --b . [--batches 30 --batch 100]

Prints p50 (and p90) per server over all requests, the median of the per-batch p50s, and the
ratio B / A, for plain versions and for the version with lineage edges.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.production import PROXY_HEADERS, PROXY_SETTINGS, gunicorn_command  # noqa: E402
from bench.registry_vs_mlflow import (  # noqa: E402
    FIRST_ANSWER,
    SEARCH_MODEL,
    Client,
    free_port,
    pct,
    stop,
    timed,
    wait_for,
)
from bench.version_get_profile import bench_url, settings_env  # noqa: E402


def start(root: Path, env: dict[str, str], headers: dict[str, str], log: Path):
    port = free_port()
    command, settings = gunicorn_command(port, readme=root / "README.md")
    command[0] = str(root / ".venv" / "bin" / "gunicorn") if "/.venv/" in command[0] else command[0]
    proc = subprocess.Popen(
        [*command, "--log-level", "warning"], cwd=root,
        env={**env, **settings, **PROXY_SETTINGS, "PYTHONPATH": str(root)},
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    wait_for(port, FIRST_ANSWER, headers, proc, f"gunicorn in {root}")
    return proc, port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", type=Path, default=Path("/work/main"), help="checkout A (before)")
    parser.add_argument("--b", type=Path, default=ROOT, help="checkout B (after)")
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch", type=int, default=100, help="requests per batch")
    parser.add_argument("--versions", type=int, default=20_000)
    args = parser.parse_args()

    env = settings_env(bench_url())
    key = (ROOT / "var" / "bench" / "vget-token").read_text()
    headers = {"Authorization": f"Token {key}", **PROXY_HEADERS}
    log = ROOT / "var" / "bench" / "vget-gunicorn.log"
    servers = {}
    try:
        for label, root in (("A", args.a.resolve()), ("B", args.b.resolve())):
            servers[label] = (root, *start(root, env, headers, log))
        clients = {label: Client(port, headers) for label, (_, _, port) in servers.items()}
        kinds = {
            "plain version": lambda i: 1 + (i * 7919) % args.versions,
            "version with lineage": lambda i: args.versions + 1,
        }
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
              f"A = {servers['A'][0]}, B = {servers['B'][0]}; {args.batches} batches of "
              f"{args.batch} per server and kind")
        for kind, number in kinds.items():
            every: dict[str, list[float]] = {"A": [], "B": []}
            batch_p50: dict[str, list[float]] = {"A": [], "B": []}
            for client in clients.values():  # warm each worker's connection
                for i in range(40):
                    path = f"/api/v1/models/{SEARCH_MODEL}/versions/{number(i)}/"
                    timed(client, "GET", path, None, 200)
            for b in range(args.batches):
                for label in ("A", "B") if b % 2 == 0 else ("B", "A"):
                    got = [timed(clients[label], "GET",
                                 f"/api/v1/models/{SEARCH_MODEL}/versions/{number(b * args.batch + i)}/",
                                 None, 200)
                           for i in range(args.batch)]
                    every[label] += got
                    batch_p50[label].append(pct(got, 50))
            a50, b50 = pct(every["A"], 50), pct(every["B"], 50)
            am, bm = statistics.median(batch_p50["A"]), statistics.median(batch_p50["B"])
            print(f"{kind:<22} A p50 {a50:5.2f} ms (p90 {pct(every['A'], 90):5.2f}) | B p50 "
                  f"{b50:5.2f} ms (p90 {pct(every['B'], 90):5.2f}) | B/A {b50 / a50:4.2f} | "
                  f"median of batch p50s A {am:5.2f} B {bm:5.2f} ({bm / am:4.2f})", flush=True)
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
    finally:
        for _, proc, _ in servers.values():
            stop(proc)


if __name__ == "__main__":
    main()
