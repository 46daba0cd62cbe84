"""The one way to write an AuditEvent, and the verification of the hash chain.

Every state change in Gatehouse calls `record(...)` inside the transaction of the change, so a
failed request writes no event and a committed change always has one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from common import context
from governance.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64
_ACTIONS: set[str] = set()
_SUBSCRIBERS: list = []


class UnknownAuditAction(ValueError):
    """Raised when code records an action name nobody registered."""


def register_actions(*names: str) -> None:
    for name in names:
        if name.count(".") != 2:
            raise ValueError(f"Audit action {name!r} must look like <app>.<entity>.<verb_past>.")
        _ACTIONS.add(name)


def subscribe(callback) -> None:
    """Call `callback(event)` after the transaction that recorded an event commits (webhooks,
    evidence re-checks). Apps above governance subscribe in their AppConfig.ready()."""
    if callback not in _SUBSCRIBERS:
        _SUBSCRIBERS.append(callback)


def registered_actions() -> frozenset[str]:
    return frozenset(_ACTIONS)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def canonical_payload(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(
    *, seq: int, timestamp: dt.datetime, actor_id: int | None, actor_name: str,
    actor_roles: list, action: str, object_type: str, object_id: str, object_repr: str,
    model_name: str, payload: Any, request_id: str, client_ip: str, prev_hash: str,
) -> str:
    fields = {
        "seq": seq, "timestamp": _ts(timestamp), "actor_id": actor_id, "actor_name": actor_name,
        "actor_roles": sorted(actor_roles), "action": action, "object_type": object_type,
        "object_id": object_id, "object_repr": object_repr, "model_name": model_name,
        "payload": payload, "request_id": request_id, "client_ip": client_ip,
    }
    return hashlib.sha256(canonical_payload(fields) + prev_hash.encode()).hexdigest()


def event_hash(event: AuditEvent) -> str:
    return compute_hash(
        seq=event.seq, timestamp=event.timestamp, actor_id=event.actor_id,
        actor_name=event.actor_name, actor_roles=list(event.actor_roles), action=event.action,
        object_type=event.object_type, object_id=event.object_id, object_repr=event.object_repr,
        model_name=event.model_name, payload=event.payload, request_id=event.request_id,
        client_ip=event.client_ip, prev_hash=event.prev_hash,
    )


_HEAD = AuditChainHead._meta.db_table


def _advance_head(conn) -> tuple[int, str]:
    """Take the next sequence number and the previous hash. The UPDATE holds the head row's lock
    until the transaction ends, which serialises appends across processes: the chain never
    forks. One statement, as every state change in Gatehouse passes through here."""
    with conn.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_HEAD} SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq, last_hash"
        )
        row = cursor.fetchone()
    if row is None:  # the very first event: create the head, then advance it under its lock
        AuditChainHead.objects.get_or_create(id=1)
        return _advance_head(conn)
    return row[0], row[1]


def record(
    *,
    action: str,
    actor=None,
    target: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    model_name: str = "",
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Must run inside the caller's transaction (atomic block)."""
    if action not in _ACTIONS:
        raise UnknownAuditAction(f"Unknown audit action {action!r}; register it first.")
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        raise RuntimeError("audit.record() must be called inside the transaction of the change.")
    if target is not None:
        object_type = object_type or f"{target._meta.app_label}.{target._meta.model_name}"
        object_id = object_id or target.pk
        object_repr = object_repr or str(target)
    roles = sorted(getattr(actor, "role_names", ())) if actor is not None else []
    ctx = context.current()
    seq, prev_hash = _advance_head(conn)
    now = timezone.now()
    clean_payload = _jsonable(payload or {})
    fields = dict(
        seq=seq, timestamp=now, actor_id=getattr(actor, "pk", None),
        actor_name=getattr(actor, "username", "") if actor is not None else "system",
        actor_roles=roles, action=action, object_type=object_type, object_id=str(object_id),
        object_repr=str(object_repr)[:300], model_name=model_name, payload=clean_payload,
        request_id=ctx.request_id, client_ip=ctx.client_ip, prev_hash=prev_hash,
    )
    digest = compute_hash(**fields)
    event = AuditEvent.objects.create(hash=digest, **fields)
    with conn.cursor() as cursor:
        cursor.execute(f"UPDATE {_HEAD} SET last_hash = %s WHERE id = 1", [digest])
    for callback in _SUBSCRIBERS:
        transaction.on_commit(lambda cb=callback: cb(event))
    return event


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "checked": self.checked}
        if not self.ok:
            out.update(broken_at=self.broken_at, reason=self.reason)
        return out


_HASHED_COLUMNS = (
    "seq", "timestamp", "actor_id", "actor_name", "actor_roles", "action", "object_type",
    "object_id", "object_repr", "model_name", "payload", "request_id", "client_ip",
    "prev_hash", "hash",
)
# PostgreSQL hands back the timestamp already in _ts()'s format and the JSON as text: no datetime
# objects, no ORM converters. Read through a server-side cursor, a batch at a time.
_PG_VERIFY_SQL = """
SELECT seq, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor_id,
       actor_name, actor_roles::text, action, object_type, object_id, object_repr, model_name,
       payload::text, request_id, client_ip, prev_hash, hash
FROM governance_auditevent WHERE seq <= %s ORDER BY seq
"""
_encode_str = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses for str
_encode_payload = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical_fast(
    seq: int, ts: str, actor_id: int | None, actor_name: str, roles: list, action: str,
    otype: str, oid: str, orepr: str, model_name: str, payload: Any, request_id: str,
    client_ip: str,
) -> str:
    """canonical_payload(...) of compute_hash, assembled directly: the keys in sorted order,
    strings through the same C encoder as json.dumps. Byte-for-byte identical (tested).
    `roles` is a list, or its canonical JSON already encoded."""
    s = _encode_str
    roles_json = roles if isinstance(roles, str) else "[" + ",".join(s(r) for r in sorted(roles)) + "]"
    return (
        '{"action":' + s(action) + ',"actor_id":' + ("null" if actor_id is None else str(actor_id))
        + ',"actor_name":' + s(actor_name)
        + ',"actor_roles":' + roles_json
        + ',"client_ip":' + s(client_ip) + ',"model_name":' + s(model_name)
        + ',"object_id":' + s(oid) + ',"object_repr":' + s(orepr) + ',"object_type":' + s(otype)
        + ',"payload":' + _encode_payload(payload) + ',"request_id":' + s(request_id)
        + ',"seq":' + str(seq) + ',"timestamp":' + s(ts) + "}"
    )


def canonical_roles(roles: list) -> str:
    return "[" + ",".join(_encode_str(r) for r in sorted(roles)) + "]"


def _verify_rows(rows: Iterable[tuple], expected_last: int | None, *, text: bool) -> VerifyResult:
    """The fast path of verification over tuples. `text`: timestamp as a formatted string and
    actor_roles/payload as JSON text (PostgreSQL path); otherwise Python values (ORM path)."""
    sha256, loads, utc = hashlib.sha256, json.loads, dt.UTC
    roles_cache: dict[str, str] = {}  # few distinct role sets: encode each once
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for (seq, ts, actor_id, actor_name, roles, action, otype, oid, orepr, model_name, payload,
         request_id, client_ip, prev_hash, digest) in rows:
        if seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"event #{expected_seq} is missing")
        if prev_hash != expected_prev:
            return VerifyResult(False, checked, seq, "prev_hash does not match event before")
        if text:
            encoded = roles_cache.get(roles)
            if encoded is None:
                encoded = roles_cache[roles] = canonical_roles(loads(roles))
            roles = encoded
            payload = loads(payload)
        else:
            ts = ts.astimezone(utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        canonical = canonical_fast(seq, ts, actor_id, actor_name, roles, action, otype, oid, orepr,
                                   model_name, payload, request_id, client_ip)
        if sha256((canonical + prev_hash).encode()).hexdigest() != digest:
            return VerifyResult(False, checked, seq, "content does not match its hash")
        expected_prev = digest
        expected_seq += 1
        checked += 1
    if expected_last is not None and expected_last != checked:
        return VerifyResult(False, checked, checked + 1, "events after the last one are missing")
    return VerifyResult(True, checked)


def _pg_rows(last: int, batch_size: int):
    from django.db import connection

    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor(name="gatehouse_audit_verify") as cur:
            cur.itersize = batch_size
            cur.execute(_PG_VERIFY_SQL, [last])
            while rows := cur.fetchmany(batch_size):
                yield from rows


def verify_chain(events: Iterable[AuditEvent] | None = None, batch_size: int = 5000) -> VerifyResult:
    """Walk the chain in sequence order; report the first event whose link or hash is wrong.

    Without `events`, reads the chain head first and checks every event up to it (events
    appended meanwhile are left for the next run), streaming rows (a server-side cursor on
    PostgreSQL) without building model instances.
    """
    if events is None:
        head = AuditChainHead.objects.filter(id=1).first()
        last = head.last_seq if head else 0
        if transaction.get_connection().vendor == "postgresql":
            return _verify_rows(_pg_rows(last, batch_size), last, text=True)
        rows = (
            AuditEvent.objects.filter(seq__lte=last).order_by("seq")
            .values_list(*_HASHED_COLUMNS).iterator(chunk_size=batch_size)
        )
        return _verify_rows(rows, last, text=False)
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in events:
        if event.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"event #{expected_seq} is missing")
        if event.prev_hash != expected_prev:
            return VerifyResult(False, checked, event.seq, "prev_hash does not match event before")
        if event_hash(event) != event.hash:
            return VerifyResult(False, checked, event.seq, "content does not match its hash")
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    return VerifyResult(True, checked)
