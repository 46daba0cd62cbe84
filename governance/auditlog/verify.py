"""Full verification: recompute the whole tree from the events and compare it with everything
stored and signed. Reports the first bad position.

One pass in position order over the events (streamed; on PostgreSQL the database also compares
each row's columns with its hashed body, as JSON values, so Python only hashes):
- every position 1..latest tree size is present (a hole is an aborted-position event);
- each event's columns say what its hashed body says (an edit behind the application's back);
- events from before the Merkle log still link up in the old per-row hash chain;
- each leaf is the one sealed (the stored tile), so a rewritten body is found at its position;
- each stored subtree hash (what proofs are served from) is the recomputed one;
- at each checkpoint's size the root is the signed root, and the signature verifies.

On PostgreSQL, outside a caller's transaction, the column check (parsing every body as JSON: most
of the database's work) runs beside the pass as one aggregate on a second connection that shares
the pass's snapshot (pg_export_snapshot), so PostgreSQL can spread it over parallel workers while
the pass streams leaves; the lower of the two first-bad positions is reported.
"""

from __future__ import annotations

import hashlib
import re
import threading

from django.db import connection, transaction

from governance import audit
from governance.audit import VerifyResult
from governance.auditlog import signing
from governance.auditlog.merkle import CompactRange, leaf_hash
from governance.models import AuditCheckpoint, AuditEvent, AuditTreeTile

_EVENTS = AuditEvent._meta.db_table
_TILES = AuditTreeTile._meta.db_table
# The leaf hash is computed by PostgreSQL (sha256 over 0x00 || body): the body itself would be
# ~450 bytes per row to send and hash in Python, the leaf is 32. Old-chain rows also send their
# body (their hash covers it).
# Whether a row's columns say what its hashed body says (as JSON values).
_COLUMNS_MATCH = """body::jsonb = jsonb_build_object(
    'action', action, 'actor_id', actor_id, 'actor_name', actor_name, 'actor_roles', actor_roles,
    'client_ip', client_ip, 'model_name', model_name, 'object_id', object_id,
    'object_repr', object_repr, 'object_type', object_type, 'payload', payload,
    'request_id', request_id, 'seq', seq,
    'timestamp', to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))"""
_PG_EVENTS = f"""
SELECT seq, sha256('\\x00'::bytea || convert_to(body, 'UTF8')), {{columns}},
    prev_hash, hash, CASE WHEN hash IS NOT NULL THEN body END
FROM {_EVENTS} ORDER BY seq
"""
# `min(seq + 0)`, not `min(seq)`: PostgreSQL answers a bare min() by walking the seq index in
# order, one process, testing each row (11.6 s at 1M rows here); over an expression it plans a
# parallel sequential scan with partial aggregates (5.5 s on 2 CPUs).
_PG_FIRST_MISMATCH = f"SELECT min(seq + 0) FROM {_EVENTS} WHERE NOT ({_COLUMNS_MATCH})"
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")
_LEAVES = f"SELECT start, hashes FROM {_TILES} WHERE height = 0 ORDER BY start"


def _stream(sql: str, name: str, batch: int):
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.connection.cursor(name=name) as cur:
            cur.itersize = batch
            cur.execute(sql)
            while rows := cur.fetchmany(batch):
                yield from rows
        return
    with connection.cursor() as cur:
        cur.execute(sql)
        while rows := cur.fetchmany(batch):
            yield from rows


def _event_rows(batch: int, columns_checked_beside: bool):
    if connection.vendor == "postgresql":
        sql = _PG_EVENTS.format(columns="TRUE" if columns_checked_beside else _COLUMNS_MATCH)
        yield from _stream(sql, "gatehouse_verify_events", batch)
        return
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=batch):
        yield (event.seq, leaf_hash(event.body.encode()), audit.event_body(event) == event.body,
               event.prev_hash, event.hash, event.body)


def _stored_leaves(batch: int):
    """(index, leaf hash) of every stored leaf, in order."""
    for start, hashes in _stream(_LEAVES, "gatehouse_verify_leaves", batch):
        data = bytes(hashes)
        for i in range(len(data) // 32):
            yield start + i, data[i * 32:(i + 1) * 32]


class _Broken(Exception):
    def __init__(self, position: int | None, reason: str, checkpoint: int | None = None):
        super().__init__(reason)
        self.position, self.reason, self.checkpoint = position, reason, checkpoint


class _ColumnsCheck(threading.Thread):
    """The first position whose columns do not match its body, read on this thread's own
    connection in the snapshot the pass exported (so both see exactly the same rows)."""

    def __init__(self, snapshot: str):
        super().__init__(name="gatehouse-verify-columns", daemon=True)
        if not _SNAPSHOT_ID.match(snapshot):
            raise ValueError(f"unexpected snapshot id {snapshot!r}")
        self.snapshot, self.first_bad, self.error = snapshot, None, None

    def run(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute(f"SET TRANSACTION SNAPSHOT '{self.snapshot}'")
                cur.execute(_PG_FIRST_MISMATCH)
                self.first_bad = cur.fetchone()[0]
        except BaseException as exc:  # handed to the pass, which re-raises it
            self.error = exc
        finally:
            connection.close()

    def result(self) -> int | None:
        self.join()
        if self.error is not None:
            raise self.error
        return self.first_bad


def verify_log(batch_size: int = 5000) -> VerifyResult:
    """Check every event and every checkpoint; stop at the first problem."""
    beside = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():  # one snapshot for the events, the tiles and the checkpoints
        columns = None
        if beside:
            with connection.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("SELECT pg_export_snapshot()")
                columns = _ColumnsCheck(cur.fetchone()[0])
            columns.start()
        checkpoints = list(AuditCheckpoint.objects.order_by("number"))
        state = {"checked": 0}
        broken = None
        try:
            _verify(checkpoints, batch_size, state, columns_checked_beside=beside)
        except _Broken as found:
            broken = found
        finally:
            first_bad = columns.result() if columns is not None else None
        if first_bad is not None and (broken is None or first_bad <= broken.position):
            broken = _Broken(first_bad, _columns_reason(first_bad))
            state["checked"] = first_bad - 1  # positions are contiguous (holes are events too)
        if broken is not None:
            return VerifyResult(False, state["checked"], broken.position, broken.reason,
                                checkpoints=len(checkpoints), bad_checkpoint=broken.checkpoint)
    return VerifyResult(True, state["checked"], checkpoints=len(checkpoints),
                        sealed=checkpoints[-1].tree_size if checkpoints else 0)


def _columns_reason(seq: int) -> str:
    return (f"event #{seq}: its columns do not match the body hashed into the log (edited after "
            "it was written)")


def _covering(checkpoints: list[AuditCheckpoint], position: int) -> AuditCheckpoint:
    return next(cp for cp in checkpoints if cp.tree_size >= position)


def _verify(checkpoints: list[AuditCheckpoint], batch: int, state: dict, *,
            columns_checked_beside: bool) -> None:
    previous = 0
    for cp in checkpoints:
        note = signing.checkpoint_note(cp.tree_size, cp.root_hash,
                                       audit.format_timestamp(cp.created_at))
        if cp.key_id != signing.key_id() or not signing.verify(note, cp.signature):
            raise _Broken(previous + 1, f"checkpoint {cp.number}: its signature does not verify "
                          "with the log's public key", cp.number)
        if cp.tree_size <= previous:
            raise _Broken(previous + 1, f"checkpoint {cp.number}: its tree size goes backwards",
                          cp.number)
        previous = cp.tree_size
    sealed = previous
    stored_nodes: dict[tuple[int, int], bytes] = {}
    with connection.cursor() as cur:
        cur.execute(f"SELECT height, start, hashes FROM {_TILES} WHERE height > 0")
        for height, start, hashes in cur.fetchall():
            data = bytes(hashes)
            for i in range(len(data) // 32):
                stored_nodes[(height, start + i)] = data[i * 32:(i + 1) * 32]

    def check_node(height: int, index: int, node: bytes) -> None:
        if height and stored_nodes.get((height, index)) != node:
            first = (index << height) + 1
            raise _Broken(first, f"the stored subtree hash for positions {first}.."
                          f"{(index + 1) << height} does not match the events (proofs served from "
                          "it would be wrong)", _covering(checkpoints, first).number)

    tree = CompactRange(on_stored=check_node)
    leaves = _stored_leaves(batch)
    rows = _event_rows(batch, columns_checked_beside)
    try:
        _pass(rows, leaves, tree, checkpoints, sealed, state)
    finally:  # close both named cursors now, whatever stopped the pass
        rows.close()
        leaves.close()


def _pass(rows, leaves, tree: CompactRange, checkpoints: list[AuditCheckpoint], sealed: int,
          state: dict) -> None:
    pending_cps = iter(checkpoints)
    next_cp = next(pending_cps, None)
    expected, prev_hash, sha256, good = 1, audit.GENESIS_HASH, hashlib.sha256, 0
    for seq, leaf, consistent, row_prev, digest, body in rows:
        if seq != expected and expected <= sealed:
            raise _Broken(expected, f"event #{expected} is missing",
                          _covering(checkpoints, expected).number)
        if not consistent:
            raise _Broken(seq, _columns_reason(seq))
        if digest:  # written before the Merkle log: the old chain still links
            if row_prev != prev_hash:
                raise _Broken(seq, f"event #{seq}: prev_hash does not match event before")
            if sha256((body + row_prev).encode()).hexdigest() != digest:
                raise _Broken(seq, f"event #{seq}: content does not match its hash")
            prev_hash = digest
        if seq <= sealed:
            leaf = bytes(leaf)
            stored = next(leaves, None)
            if stored is None or stored[0] != seq - 1 or stored[1] != leaf:
                cp = _covering(checkpoints, seq)
                raise _Broken(seq, f"event #{seq}: does not match the leaf sealed in "
                              f"checkpoint {cp.number}", cp.number)
            tree.append(leaf)
            while next_cp is not None and tree.size == next_cp.tree_size:
                if tree.root().hex() != next_cp.root_hash:
                    # Every leaf matched its stored copy, so the stored leaves were rewritten
                    # too: the damage lies after the last checkpoint that still verified.
                    raise _Broken(good + 1, f"checkpoint {next_cp.number}: its signed root is "
                                  f"not the root of events 1..{next_cp.tree_size} (a change "
                                  f"after #{good})", next_cp.number)
                good = next_cp.tree_size
                next_cp = next(pending_cps, None)
        state["checked"] += 1
        expected = seq + 1
    if expected <= sealed:
        raise _Broken(expected, f"events from #{expected} on are missing (sealed up to "
                      f"#{sealed})", _covering(checkpoints, expected).number)
