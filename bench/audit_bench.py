"""Audit log benchmark: append throughput through audit.record(), sealing N events into one
signed checkpoint, full verification, and inclusion / consistency proofs at that size.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_audit .venv/bin/python bench/audit_bench.py \
        --events 1000000 --append 2000 --threads 4

Runs in its own throwaway database (<name>_audit_bench), created, migrated and dropped here, so
it never touches real data. Prints the figures; record them in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from governance import audit  # noqa: E402
from governance.models import AuditEvent  # noqa: E402

COLUMNS = ["seq", "body", "timestamp", "actor_id", "actor_name", "actor_roles", "action",
           "object_type", "object_id", "object_repr", "model_name", "payload", "request_id",
           "client_ip", "prev_hash"]


def bench_append(total: int, threads: int) -> dict:
    out = {}
    start = time.perf_counter()
    for i in range(total):
        with transaction.atomic():
            audit.record(action="registry.version.stage_changed", object_type="bench.append",
                         object_id=str(i), model_name="bench-model",
                         payload={"before": {"stage": "staging"}, "after": {"stage": "production"}})
    elapsed = time.perf_counter() - start
    out["single"] = (total, elapsed)

    per = total // threads
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(per):
                with transaction.atomic():
                    audit.record(action="registry.version.stage_changed", object_type="bench.append",
                                 object_id=f"{n}-{i}", payload={"writer": n, "i": i})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    out["threads"] = (per * threads, elapsed)
    return out


def _rows(start_seq: int, count: int):
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for seq in range(start_seq, start_seq + count):
        fields = dict(
            timestamp=base + dt.timedelta(microseconds=seq * 1000), actor_id=None,
            actor_name="bench", actor_roles=["validator"], action="registry.version.stage_changed",
            object_type="registry.modelversion", object_id=str(seq % 5000),
            object_repr=f"bench-model@{seq % 5000}", model_name="bench-model",
            payload={"before": {"stage": "staging"}, "after": {"stage": "production"},
                     "reason": "approved", "request": seq},
            request_id=f"req-{seq}", client_ip="10.0.0.1",
        )
        head, tail = audit.body_parts({**fields, "timestamp": audit.format_timestamp(
            fields["timestamp"])})
        yield {"seq": seq, "body": f"{head}{seq}{tail}", "prev_hash": "", **fields}


def load_events(total: int) -> float:
    """Append `total` events after the last position, as fast as the database allows (COPY;
    bodies built in Python exactly as audit.record builds them)."""
    start = time.perf_counter()
    first = (AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0) + 1
    batch = 20_000
    for offset in range(0, total, batch):
        n = min(batch, total - offset)
        rows = list(_rows(first + offset, n))
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    with cur.cursor.copy(
                        f"COPY governance_auditevent ({', '.join(COLUMNS)}) FROM STDIN"
                    ) as copy:
                        for r in rows:
                            copy.write_row([
                                json.dumps(r[c]) if c in ("actor_roles", "payload") else r[c]
                                for c in COLUMNS
                            ])
            else:
                AuditEvent.objects.bulk_create([AuditEvent(**r) for r in rows], batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:  # COPY gave explicit positions: move the sequence on
            cur.execute(f"SELECT setval('{audit.POSITION_SEQUENCE}', %s)", [first + total - 1])
    return time.perf_counter() - start


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_proofs(samples: int) -> None:
    import random

    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from governance import services as gov
    from governance.auditlog import proofs

    latest = proofs.latest_checkpoint()
    size = latest.tree_size
    rng = random.Random(6962)
    positions = [rng.randint(1, size) for _ in range(samples)] + [1, size]
    visible = AuditEvent.objects.all()
    times = []
    with CaptureQueriesContext(connection) as ctx:
        proofs.inclusion(position=positions[0], tree_size=None, visible=visible)
    for p in positions:
        start = time.perf_counter()
        proofs.inclusion(position=p, tree_size=None, visible=visible)
        times.append((time.perf_counter() - start) * 1000)
    print(f"inclusion proof at {size:,} events (service, {len(positions)} positions, "
          f"{len(ctx.captured_queries)} queries each): p50 {_pct(times, .5):.2f} ms, "
          f"p95 {_pct(times, .95):.2f} ms, max {max(times):.2f} ms")
    setup_test_environment()
    from governance.models import User

    user = User.objects.filter(username="bench-auditor").first()
    if user is None:
        with transaction.atomic():
            user = gov.user_create(username="bench-auditor", roles=["auditor"], teams=[],
                                   password="pw", email="a@example.com")
    client = Client()
    client.force_login(user)
    times = []
    for p in positions[:100]:
        start = time.perf_counter()
        response = client.get(f"/api/v1/audit/events/{p}/proof/")
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content
    print(f"GET /api/v1/audit/events/{{position}}/proof/ at {size:,} events (100 requests, "
          f"session auth, test client): p50 {_pct(times, .5):.2f} ms, "
          f"p95 {_pct(times, .95):.2f} ms")
    times = []
    for first in [rng.randint(1, size) for _ in range(50)]:
        start = time.perf_counter()
        proofs.consistency(first=first, second=size)
        times.append((time.perf_counter() - start) * 1000)
    print(f"consistency proof to {size:,} events (service, 50 random first sizes): "
          f"p50 {_pct(times, .5):.2f} ms, max {max(times):.2f} ms")


def main() -> None:
    from governance.auditlog.sealer import seal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--append", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--proofs", type=int, default=500)
    parser.add_argument("--keep", action="store_true",
                        help="Keep the bench database afterwards; with one kept from an earlier "
                             "--keep run, only time the proofs.")
    args = parser.parse_args()

    name = connection.settings_dict["NAME"]
    bench_name = f"{Path(str(name)).stem}_audit_bench"
    connection.settings_dict["TEST"]["NAME"] = (
        str(Path(str(name)).with_name(bench_name + ".sqlite3")) if connection.vendor == "sqlite"
        else bench_name
    )
    print(f"database: {connection.vendor} ({connection.settings_dict['TEST']['NAME']}), "
          f"CPUs: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    old = setup_databases(verbosity=0, interactive=False, keepdb=args.keep)
    try:
        if args.keep and AuditEvent.objects.count() > args.events:
            print(f"kept database: {AuditEvent.objects.count():,} events")
            bench_proofs(args.proofs)
            return
        res = bench_append(args.append, args.threads)
        n, t = res["single"]
        print(f"append, 1 writer:        {n} events in {t:.2f} s = {n / t:,.0f} events/s")
        n, t = res["threads"]
        print(f"append, {args.threads} writers:       {n} events in {t:.2f} s = {n / t:,.0f} events/s")
        first = seal()
        print(f"sealed the appended events: checkpoint {first.checkpoint.number}, "
              f"{first.checkpoint.tree_size} events")
        loaded = load_events(args.events)
        total = AuditEvent.objects.count()
        print(f"loaded {args.events:,} more events (to {total:,}) in {loaded:.1f} s")
        load_before = os.getloadavg()[0]
        start, cpu = time.perf_counter(), time.process_time()
        sealed = seal(max_events=args.events)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"seal: {json.dumps(sealed.as_dict())} in {elapsed:.1f} s wall ({cpu:.1f} s CPU "
              f"of this process) = {sealed.sealed / elapsed:,.0f} events/s; load average "
              f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}")
        load_before = os.getloadavg()[0]
        start, cpu = time.perf_counter(), time.process_time()
        result = audit.verify_chain()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"verify_chain: {json.dumps(result.as_dict())} in {elapsed:.1f} s wall "
              f"({cpu:.1f} s CPU of this process) = {result.checked / elapsed:,.0f} events/s; "
              f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        bench_proofs(args.proofs)
        out = io.StringIO()
        start = time.perf_counter()
        from django.core.management import call_command

        call_command("verify_audit", stdout=out)
        print(f"manage.py verify_audit: {out.getvalue().strip()} in {time.perf_counter() - start:.1f} s")
    finally:
        if not args.keep:
            teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
