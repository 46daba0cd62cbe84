"""Declared domain events: what a layer announces, and who handles it, written down in code.

A lower layer declares an event (`declare`) and its services `publish` it where the change
happens; an upper layer that must react registers a handler (`on`) in its AppConfig.ready().
This keeps the import direction (the publisher never imports the handler) without a hidden bus:
every event has a name and a sentence, every publication is an explicit call in a service.

Rules: `publish` runs inside the transaction of the change; handlers run after it commits (a
rolled-back change announces nothing), once per (event, key) per transaction however often the
change published it, so a handler sees "model X's evidence changed", not every edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

Handler = Callable[[str], None]


@dataclass(frozen=True)
class Event:
    name: str
    doc: str


_DECLARED: dict[str, Event] = {}
_HANDLERS: dict[str, list[Handler]] = {}


def declare(name: str, doc: str) -> Event:
    """Declare an event once; the sentence says what happened and what the key is."""
    event = _DECLARED.setdefault(name, Event(name, doc))
    return event


def declared() -> dict[str, Event]:
    return dict(_DECLARED)


def on(event: Event, handler: Handler) -> None:
    """Call `handler(key)` after each transaction that published `event` for `key`."""
    if event.name not in _DECLARED:
        raise ValueError(f"Event {event.name!r} is not declared.")
    handlers = _HANDLERS.setdefault(event.name, [])
    if handler not in handlers:
        handlers.append(handler)


class _Delivery:
    """An on-commit callback for one (event, key); recognisable so it is registered once."""

    def __init__(self, event: Event, key: str) -> None:
        self.event, self.key = event, key

    def __call__(self) -> None:
        for handler in _HANDLERS.get(self.event.name, ()):
            handler(self.key)


def publish(event: Event, *, key: str) -> None:
    """Announce `event` about `key` (e.g. a model's name) from inside the change's transaction."""
    if event.name not in _DECLARED:
        raise ValueError(f"Event {event.name!r} is not declared.")
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        raise RuntimeError("events.publish() must run inside the transaction of the change.")
    # Pending on-commit callbacks of this transaction (Django drops those of a rolled-back
    # savepoint): one delivery per (event, key) is enough.
    scope = _durable_scope(conn)
    for savepoints, func, _robust in conn.run_on_commit:
        if (isinstance(func, _Delivery) and func.event == event and func.key == key
                and (scope is None or scope in savepoints)):
            return
    conn.on_commit(_Delivery(event, key))


def _durable_scope(conn) -> str | None:
    """The savepoint of the innermost durable block when it is nested (only in tests, whose own
    transaction never commits: each durable service call there is its own "transaction"); None
    when the transaction itself is the scope. Django keeps one savepoint id per nested block
    (None when it made none), aligned with the open atomic blocks after the outermost."""
    blocks = getattr(conn, "atomic_blocks", [])
    for index in range(len(blocks) - 1, 0, -1):
        if getattr(blocks[index], "durable", False):
            return conn.savepoint_ids[index - 1]
    return None
