"""The one way to write an AuditEvent, and the one canonical JSON form that audit hashes cover.

Every state change in Gatehouse calls `record(...)` inside the transaction of the change, so a
failed request writes no event and a committed change always has one.

Appending is one plain INSERT. The event's position (`seq`) comes from a database sequence in the
writer's own transaction (PostgreSQL) or from the table itself under SQLite's one-writer lock;
no row is shared between writers and nothing is updated, so concurrent writers never queue on
each other. A rolled-back transaction leaves a hole in the positions: the sealer
(governance.auditlog.sealer) seals only the contiguous committed prefix and records a hole as an
aborted position once it is certain nobody can fill it. The event's canonical JSON (`body`,
position included) is assembled here and stored with the row; the sealer hashes it into the
Merkle tree (governance.auditlog) without re-encoding anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from common import context
from governance.models import AuditEvent

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


#: Written by the sealer for a position whose transaction rolled back (see auditlog.sealer).
POSITION_ABORTED = "governance.audit.position_aborted"
register_actions(POSITION_ABORTED)


# --- the canonical JSON form -------------------------------------------------------------------
# One encoder for everything an audit hash covers (event bodies, the legacy chain, attestations):
# keys sorted, no whitespace, UTF-8 (no \u escapes except the ones JSON requires). It is exactly
# `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, so an outside
# verifier reproduces it with any standard JSON library.


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_payload(fields: dict[str, Any]) -> bytes:
    return canonical_json(fields).encode()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def format_timestamp(value: dt.datetime) -> str:
    """The timestamp as the canonical form spells it (UTC, microseconds, Z)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_ts = format_timestamp

#: The columns an event's canonical JSON is made of, in the JSON's (sorted) key order.
BODY_KEYS = (
    "action", "actor_id", "actor_name", "actor_roles", "client_ip", "model_name", "object_id",
    "object_repr", "object_type", "payload", "request_id", "seq", "timestamp",
)


def body_parts(fields: dict[str, Any]) -> tuple[str, str]:
    """The canonical JSON of an event without its position, split where the position goes.

    `head + str(seq) + tail == canonical_json({**fields, "seq": seq})` (keys sort "seq" between
    "request_id" and "timestamp"); the INSERT splices the position in, so the body is complete
    in the same statement that takes the position. `timestamp` must already be formatted.
    """
    enc = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses for keys
    before = [enc(k) + ":" + canonical_json(v) for k, v in sorted(fields.items()) if k < "seq"]
    after = [enc(k) + ":" + canonical_json(v) for k, v in sorted(fields.items()) if k > "seq"]
    head = "{" + "".join(item + "," for item in before) + '"seq":'
    tail = "".join("," + item for item in after) + "}"
    return head, tail


def event_body(event: AuditEvent) -> str:
    """The canonical JSON of an event as its columns say now (what verification compares)."""
    return canonical_json({
        "action": event.action, "actor_id": event.actor_id, "actor_name": event.actor_name,
        "actor_roles": list(event.actor_roles), "client_ip": event.client_ip,
        "model_name": event.model_name, "object_id": event.object_id,
        "object_repr": event.object_repr, "object_type": event.object_type,
        "payload": event.payload, "request_id": event.request_id, "seq": event.seq,
        "timestamp": format_timestamp(event.timestamp),
    })


def compute_hash(
    *, seq: int, timestamp: dt.datetime, actor_id: int | None, actor_name: str,
    actor_roles: list, action: str, object_type: str, object_id: str, object_repr: str,
    model_name: str, payload: Any, request_id: str, client_ip: str, prev_hash: str,
) -> str:
    """The legacy per-row chain hash (events written before the Merkle log): sha256 of the
    canonical JSON + the previous event's hash. Kept to verify those rows' history."""
    fields = {
        "seq": seq, "timestamp": _ts(timestamp), "actor_id": actor_id, "actor_name": actor_name,
        "actor_roles": sorted(actor_roles), "action": action, "object_type": object_type,
        "object_id": object_id, "object_repr": object_repr, "model_name": model_name,
        "payload": payload, "request_id": request_id, "client_ip": client_ip,
    }
    return hashlib.sha256(canonical_payload(fields) + prev_hash.encode()).hexdigest()


# --- appending ---------------------------------------------------------------------------------

_TABLE = AuditEvent._meta.db_table
_COLUMNS = (
    "timestamp", "actor_id", "actor_name", "actor_roles", "action", "object_type", "object_id",
    "object_repr", "model_name", "payload", "request_id", "client_ip",
)
#: Name of the PostgreSQL sequence positions come from (created by migration 0007).
POSITION_SEQUENCE = "governance_audit_position"
# One statement: take the next position and insert the row whose body already contains it. On
# PostgreSQL nextval() is not rolled back with the transaction (that is what makes it lock-free),
# hence the holes the sealer handles. SQLite has a single writer at a time, so MAX + 1 inside the
# INSERT is race-free there and a rollback gives the position back.
_INSERT = (
    f"INSERT INTO {_TABLE} (seq, body, {', '.join(_COLUMNS)}, prev_hash, hash) "
    "SELECT p.n, %s || p.n || %s, %s, %s, %s, {json}, %s, %s, %s, %s, %s, {json}, %s, %s, '', NULL "
    "FROM ({position}) p RETURNING id, seq"
)
_INSERT_SQL = {
    "postgresql": _INSERT.format(
        json="%s::jsonb", position=f"SELECT nextval('{POSITION_SEQUENCE}') AS n"),
    "sqlite": _INSERT.format(
        json="%s", position=f"SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM {_TABLE}"),
}
# The sealer's claim of a given position (an aborted hole): same row, position given.
_INSERT_AT_SQL = {
    "postgresql": _INSERT.format(json="%s::jsonb", position="SELECT %s::bigint AS n"),
    "sqlite": _INSERT.format(json="%s", position="SELECT %s AS n"),
}


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
    conn = connections[DEFAULT_DB_ALIAS]
    if not conn.in_atomic_block:
        raise RuntimeError("audit.record() must be called inside the transaction of the change.")
    if target is not None:
        object_type = object_type or object_type_of(target)
        object_id = object_id or target.pk
        object_repr = object_repr or str(target)
    return _insert(conn, _event_fields(
        action=action, actor=actor, object_type=object_type, object_id=str(object_id),
        object_repr=object_repr, model_name=model_name, payload=payload or {},
    ))


def object_type_of(target) -> str:
    """The `object_type` events about `target` (an instance or its model class) carry. A model
    that moved between apps keeps the one its events were recorded under (`audit_object_type`):
    readers and saved filters match old and new events alike."""
    return getattr(target, "audit_object_type", "") or (
        f"{target._meta.app_label}.{target._meta.model_name}"
    )


def _event_fields(*, action: str, actor, object_type: str, object_id: str, object_repr: str,
                  model_name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An event's columns (but its position and body), with the request's context."""
    ctx = context.current()
    return dict(
        timestamp=timezone.now(), actor_id=getattr(actor, "pk", None),
        actor_name=getattr(actor, "username", "") if actor is not None else "system",
        actor_roles=sorted(getattr(actor, "role_names", ())) if actor is not None else [],
        action=action, object_type=object_type, object_id=object_id,
        object_repr=str(object_repr)[:300], model_name=model_name, payload=_jsonable(payload),
        request_id=ctx.request_id, client_ip=ctx.client_ip,
    )


def _announce(conn, event: AuditEvent) -> AuditEvent:
    """The event as written, its subscribers called once its transaction commits (at once in
    autocommit, where the statement that wrote it has)."""
    event._state.adding, event._state.db = False, conn.alias
    for callback in _SUBSCRIBERS:
        conn.on_commit(lambda cb=callback: cb(event))
    return event


_TOKEN = re.compile(r'(")?(GHSPLICE[0-9a-f]{32})(")?')


class Spliced:
    """An audit INSERT for a statement that computes some of the event's values itself (the
    registry's one-statement registration: the new row's id and number come from the same
    statement). The event's fields are given with `token(...)` strings standing for those
    values; `sql(source)` is `INSERT ... SELECT ... FROM source RETURNING id, seq`, whose body is
    the canonical JSON spliced together around the SQL expressions exactly as `body_parts`
    splices the position, so verification recomputes the same bytes from the columns."""

    def __init__(self, *, action: str, actor, target_model, model_name: str) -> None:
        if action not in _ACTIONS:
            raise UnknownAuditAction(f"Unknown audit action {action!r}; register it first.")
        self._splices: dict[str, tuple[str, bool]] = {}
        self.fields = _event_fields(
            action=action, actor=actor, object_type=object_type_of(target_model), object_id="",
            object_repr="", model_name=model_name, payload={},
        )

    def describe(self, *, object_id: str, object_repr: str, payload: dict[str, Any]) -> None:
        """The event's object and payload, which may hold `token`s."""
        self.fields.update(object_id=object_id, object_repr=str(object_repr)[:300],
                           payload=_jsonable(payload))

    def token(self, expression: str, *, number: bool) -> str:
        """A stand-in for the SQL `expression` (text or, with `number`, an integer: spliced
        into the JSON without quotes). Random, so no user-supplied text can contain it."""
        name = f"GHSPLICE{uuid.uuid4().hex}"
        self._splices[name] = (expression, number)
        return name

    def _concat(self, text: str, *, json_text: bool) -> tuple[str, list]:
        """`text` as SQL: the literal parts as parameters, each token as its expression (in
        JSON, a number token's quotes are replaced with it)."""
        sql: list[str] = []
        params: list[str] = []
        at = 0
        for match in _TOKEN.finditer(text):
            found = self._splices.get(match.group(2))
            if found is None:  # text that only looks like a token: it stays text
                continue
            expression, number = found
            if number and json_text:
                if not (match.group(1) and match.group(3)):
                    continue
                start, end = match.start(), match.end()
            else:
                start, end = match.start(2), match.end(2)
            if start > at:
                sql.append("%s")
                params.append(text[at:start])
            sql.append(f"CAST({expression} AS text)")
            at = end
        if at < len(text):
            sql.append("%s")
            params.append(text[at:])
        return " || ".join(sql) or "''", params

    def sql(self, source: str) -> tuple[str, list]:
        """(statement, params) inserting the event once per row of `source` (PostgreSQL). The
        position is taken from the sequence per row of `source`: a statement that finds no row
        takes no position, so leaves no hole for the sealer."""
        position = f"SELECT nextval('{POSITION_SEQUENCE}') AS n"
        seq = self.token("p.n", number=True)
        shown = {**self.fields, "timestamp": format_timestamp(self.fields["timestamp"]),
                 "seq": seq}
        body, body_params = self._concat(canonical_json(shown), json_text=True)
        values, params = [], []
        for column in _COLUMNS:
            value = self.fields[column]
            if column in ("actor_roles", "payload"):
                expression, more = self._concat(json.dumps(value), json_text=True)
                values.append(f"CAST({expression} AS jsonb)")
                params += more
            elif isinstance(value, str) and "GHSPLICE" in value:
                expression, more = self._concat(value, json_text=False)
                values.append(expression)
                params += more
            else:
                values.append("%s")
                params.append(value)
        statement = (
            f"INSERT INTO {_TABLE} (seq, body, {', '.join(_COLUMNS)}, prev_hash, hash) "
            f"SELECT p.n, {body}, {', '.join(values)}, '', NULL "
            f"FROM {source} CROSS JOIN LATERAL ({position}) p RETURNING id, seq"
        )
        return statement, body_params + params

    def written(self, conn, pk: int, seq: int, values: dict[str, str]) -> AuditEvent:
        """The event as inserted (`values`: each token's value, as text), its subscribers
        called after commit as `record`'s are."""
        def filled(text: str) -> str:
            for name, value in values.items():
                text = text.replace(name, value)
            return text

        fields = dict(self.fields)
        fields["object_id"] = filled(fields["object_id"])
        fields["object_repr"] = filled(fields["object_repr"])
        fields["payload"] = _filled_json(fields["payload"], self._splices, values)
        event = AuditEvent(id=pk, seq=seq, prev_hash="", hash=None, **fields)
        event.body = event_body(event)
        return _announce(conn, event)


def _filled_json(value: Any, splices: dict[str, tuple[str, bool]], values: dict[str, str]) -> Any:
    text = json.dumps(value)
    for name, (_, number) in splices.items():
        if name in values:
            text = text.replace(f'"{name}"' if number else name, values[name])
    return json.loads(text)


def _insert(conn, fields: dict[str, Any], position: int | None = None) -> AuditEvent:
    head, tail = body_parts({**fields, "timestamp": format_timestamp(fields["timestamp"])})
    params = [head, tail] + [
        json.dumps(fields[c]) if c in ("actor_roles", "payload") else fields[c] for c in _COLUMNS
    ]
    with conn.cursor() as cursor:
        if position is None:
            cursor.execute(_INSERT_SQL[conn.vendor], params)
        else:
            cursor.execute(_INSERT_AT_SQL[conn.vendor], [*params, position])  # FROM comes last
        pk, seq = cursor.fetchone()
    return _announce(conn, AuditEvent(id=pk, seq=seq, body=f"{head}{seq}{tail}", prev_hash="",
                                      hash=None, **fields))


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""
    checkpoints: int = 0
    sealed: int = 0
    bad_checkpoint: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "checked": self.checked,
                               "checkpoints": self.checkpoints}
        if self.ok:
            out["sealed"] = self.sealed
        else:
            out.update(broken_at=self.broken_at, reason=self.reason)
            if self.bad_checkpoint is not None:
                out["checkpoint"] = self.bad_checkpoint
        return out


def record_aborted_position(*, position: int, payload: dict[str, Any]) -> AuditEvent:
    """The sealer's entry for a hole: an event at exactly `position` saying no event will ever
    be there. Fails (IntegrityError) if the position's own writer committed meanwhile, and
    waits on the writer's row if it is still in flight: the unique index on `seq` is what makes
    the claim safe (governance.auditlog.sealer)."""
    conn = connections[DEFAULT_DB_ALIAS]
    fields: dict[str, Any] = dict(
        timestamp=timezone.now(), actor_id=None, actor_name="system", actor_roles=[],
        action=POSITION_ABORTED, object_type="governance.auditposition",
        object_id=str(position), object_repr=f"position {position} (rolled back)",
        model_name="", payload=_jsonable(payload), request_id="", client_ip="",
    )
    return _insert(conn, fields, position=position)


def verify_chain(batch_size: int = 5000) -> VerifyResult:
    """Check the whole record: see governance.auditlog.verify.verify_log."""
    from governance.auditlog.verify import verify_log

    return verify_log(batch_size=batch_size)


# A PostgreSQL advisory lock key: one full verification at a time across every web process
# (each reads the whole log on two connections); a second request is told to wait.
_VERIFY_LOCK = 0x6761_7465_7665_7269  # "gateveri"


def verify_chain_once(batch_size: int = 5000) -> VerifyResult:
    """`verify_chain` for the API and the portal: refused (409) while another one runs."""
    from common.errors import Conflict

    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return verify_chain(batch_size)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [_VERIFY_LOCK])
        if not cur.fetchone()[0]:
            raise Conflict("A full verification of the audit log is already running; its result "
                           "will be the same: try again in a minute.", code="verify_running")
    try:
        return verify_chain(batch_size)
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [_VERIFY_LOCK])
