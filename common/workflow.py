"""The one way a workflow row changes status: lock, check the transition table, save, record.

Promotions, findings and jobs each declare their statuses and a transition table as data
(`TRANSITIONS = {OPEN: {APPROVED, ...}}`); every status write goes through `transition(...)`,
which:

1. locks the row (`select_for_update`) and reads its current status, unless the caller already
   holds the lock from this transaction (`locked=True`, after its own `select_for_update`);
2. refuses a move the table does not allow (a 409 naming both statuses);
3. saves the new status with the other fields that change with it;
4. calls `record(before)`, which writes the audit event in the same transaction (common sits
   below governance, so the caller passes its `audit.record` call in).

Preconditions (who may, what must hold) stay with each service; this is only the move itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from django.db import models, transaction

from common.errors import Conflict

M = TypeVar("M", bound=models.Model)


class IllegalTransition(Conflict):
    """The transition table does not allow the move asked for."""

    code = "illegal_transition"


def transition(
    obj: M,
    to: str,
    *,
    table: Mapping[str, Collection[str]],
    record: Callable[[str], Any],
    field: str = "status",
    changes: Mapping[str, Any] | None = None,
    locked: bool = False,
    name: str = "",
    error: type[Conflict] = IllegalTransition,
) -> str:
    """Move `obj` to status `to` and return the status it had. Must run inside the
    transaction of the change (the lock and the audit event belong to it)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transition() must run inside the transaction of the change.")
    manager = type(obj)._default_manager
    if not locked:
        # The status is read under the row lock: a concurrent change waits here, then sees ours.
        current = (
            manager.select_for_update(of=("self",)).filter(pk=obj.pk)
            .values_list(field, flat=True).get()
        )
        setattr(obj, field, current)
    before = getattr(obj, field)
    if to not in table.get(before, ()):
        label = name or f"{obj._meta.verbose_name.capitalize()} {obj.pk}"
        raise error(f"{label} is {before}; it cannot become {to}.", errors={field: [before]})
    fields = {field: to, **(changes or {})}
    for key, value in fields.items():
        setattr(obj, key, value)
    touched = [f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
    obj.save(update_fields=sorted({*fields, *touched}))
    record(before)
    return before
