"""The sealer: puts the committed events beyond the last checkpoint into the tree and signs it.

Run by a Celery beat task every AUDIT_SEAL_INTERVAL seconds and by `manage.py seal_audit`; one
at a time (a PostgreSQL advisory lock held for the seal's transaction; a second sealer skips).

Holes. Writers take positions from a sequence that does not roll back, so a transaction that
rolls back leaves a position nobody will ever fill, and an open transaction leaves one that may
still be filled. The sealer seals only a contiguous prefix: it stops at the first missing
position X. When the first committed event after X (at Y) was written at least
AUDIT_HOLE_WAIT seconds ago, the sealer claims X by inserting an event at exactly that position
(action governance.audit.position_aborted; payload: the next position and how long it waited)
in the seal's transaction. The unique index on the position decides the race: if X's writer
committed meanwhile the claim fails and the sealer reads X; if X's writer is still in flight the
claim waits on its row (up to lock_timeout) and the sealer stops before X until a later round.
So a rolled-back hole costs one wait and is sealed as aborted; an in-flight transaction is never
overtaken. The wait only covers the instant between a writer's nextval() and its row reaching
the index; any transaction that takes longer than AUDIT_HOLE_WAIT to commit simply delays
sealing (its row blocks the claim), it never loses its event.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from governance import audit
from governance.auditlog import signing
from governance.auditlog.merkle import CompactRange, leaf_hash
from governance.auditlog.store import DbSource, PendingNodes
from governance.models import AuditCheckpoint, AuditEvent, AuditTreeTile

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x6761_7465_6864  # "gatehd": the sealer's advisory lock, nobody else takes it
_EVENTS = AuditEvent._meta.db_table
# PostgreSQL hashes the leaves itself (sha256 over 0x00 || body): 32 bytes per row cross the
# wire instead of the ~450-byte body, and Python only builds the tree. SQLite sends the body.
_READ = {
    "postgresql": "SELECT seq, sha256('\\x00'::bytea || convert_to(body, 'UTF8')) "
                  f"FROM {_EVENTS} WHERE seq >= %s AND seq <= %s ORDER BY seq",
    "sqlite": f"SELECT seq, body FROM {_EVENTS} WHERE seq >= %s AND seq <= %s ORDER BY seq",
}


@dataclass(frozen=True)
class SealResult:
    checkpoint: AuditCheckpoint | None  # the new one, or the latest when nothing was sealed
    sealed: int = 0
    aborted: int = 0
    waiting_at: int | None = None  # a hole the sealer is still waiting for
    skipped: bool = False  # another sealer holds the lock

    def as_dict(self) -> dict:
        cp = self.checkpoint
        return {"sealed": self.sealed, "aborted": self.aborted, "waiting_at": self.waiting_at,
                "skipped": self.skipped, "checkpoint": cp.number if cp else None,
                "tree_size": cp.tree_size if cp else 0}


def _rows(first: int, last: int, batch: int = 10_000):
    """(position, leaf hash) of events first..last in position order, streamed (a server-side
    cursor on PostgreSQL)."""
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.connection.cursor(name="gatehouse_audit_seal") as cur:
            cur.itersize = batch
            cur.execute(_READ["postgresql"], [first, last])
            while rows := cur.fetchmany(batch):
                yield from rows
        return
    sha256 = hashlib.sha256
    with connection.cursor() as cur:
        cur.execute(_READ["sqlite"], [first, last])
        while rows := cur.fetchmany(batch):
            for seq, body in rows:
                yield seq, sha256(b"\x00" + body.encode()).digest()


def _claim(first: int, next_seq: int, next_ts, wait: float) -> list[str] | None:
    """Record positions first..next_seq-1 as aborted, or None to stop before `first` for now;
    [] means a writer committed meanwhile (read again)."""
    waited = (timezone.now() - next_ts).total_seconds()
    if waited < wait:
        return None
    bodies = []
    for position in range(first, next_seq):
        try:
            with transaction.atomic():  # a savepoint: a failed claim leaves the seal intact
                event = audit.record_aborted_position(position=position, payload={
                    "reason": "rolled back: no event was committed at this position",
                    "next_position": next_seq, "waited_seconds": int(waited)})
        except IntegrityError:
            return bodies  # its writer committed after all: seal what was claimed, re-read
        except OperationalError:
            logger.info("audit sealer: position %s is held by an open transaction", position)
            return bodies or None
        bodies.append(event.body)
    return bodies


def seal(*, max_events: int | None = None, hole_wait: float | None = None) -> SealResult:
    """Seal the contiguous committed prefix beyond the last checkpoint (at most `max_events`
    positions) into a new signed checkpoint, recording rolled-back holes as aborted."""
    max_events = max_events or settings.AUDIT_SEAL_MAX_EVENTS
    wait = settings.AUDIT_HOLE_WAIT if hole_wait is None else hole_wait
    with transaction.atomic(durable=True):
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
                if not cur.fetchone()[0]:
                    return SealResult(None, skipped=True)
                cur.execute("SET LOCAL lock_timeout = '1s'")  # bounds a claim's wait
        last = AuditCheckpoint.objects.order_by("-number").first()
        size = last.tree_size if last else 0
        pending = PendingNodes()
        tree = CompactRange.at(DbSource(), size, on_stored=pending.add)
        limit, expected, aborted, waiting_at = size + max_events, size + 1, 0, None
        tree.on_run = pending.add_run
        while expected <= limit:
            gap = None
            rows = _rows(expected, limit)
            batch: list[bytes] = []
            for seq, leaf in rows:
                if seq != expected:
                    gap = seq
                    break
                batch.append(bytes(leaf))
                expected += 1
                if len(batch) == 10_000:
                    tree.extend(batch)
                    batch = []
            rows.close()
            tree.extend(batch)
            if gap is None:
                break
            next_ts = AuditEvent.objects.filter(seq=gap).values_list("timestamp", flat=True)[0]
            claimed = _claim(expected, gap, next_ts, wait)
            if claimed is None:
                waiting_at = expected
                break
            tree.extend([leaf_hash(body.encode()) for body in claimed])
            expected += len(claimed)
            aborted += len(claimed)
        if tree.size == size:
            return SealResult(last, waiting_at=waiting_at)
        now = timezone.now()
        root = tree.root().hex()
        note = signing.checkpoint_note(tree.size, root, audit.format_timestamp(now))
        checkpoint = AuditCheckpoint.objects.create(
            number=last.number + 1 if last else 1, tree_size=tree.size, root_hash=root,
            created_at=now, key_id=signing.key_id(), signature=signing.sign(note),
            aborted=aborted,
        )
        AuditTreeTile.objects.bulk_create(pending.rows(), batch_size=500)
    return SealResult(checkpoint, tree.size - size, aborted, waiting_at)
