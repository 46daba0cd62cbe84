"""Reads of the Merkle audit log for the API and the portal: checkpoints, inclusion and
consistency proofs, which checkpoint sealed an event. Bad requests raise domain errors whose
sentence names what was wrong; a sealer that is behind is a 409, never a 500."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from common.errors import Conflict, NotFound, ValidationFailed
from governance import audit
from governance.auditlog import merkle, signing
from governance.auditlog.store import DbSource
from governance.models import AuditCheckpoint, AuditEvent


def latest_checkpoint() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-number").first()


def checkpoint_for_position(position: int) -> AuditCheckpoint | None:
    """The first checkpoint whose tree contains `position` (None: awaiting seal)."""
    return AuditCheckpoint.objects.filter(tree_size__gte=position).order_by("number").first()


def checkpoint_numbers(positions: list[int]) -> dict[int, int | None]:
    """For a page of events: position -> number of the checkpoint that sealed it (None:
    awaiting seal). Two queries whatever the page, reading only the checkpoints it spans."""
    if not positions:
        return {}
    qs = AuditCheckpoint.objects.order_by("number").values_list("tree_size", "number")
    top = qs.filter(tree_size__gte=max(positions)).first()
    spanned = qs.filter(tree_size__gte=min(positions))
    sizes = list(spanned.filter(number__lte=top[1]) if top else spanned)
    out: dict[int, int | None] = {}
    for p in positions:
        out[p] = next((n for size, n in sizes if size >= p), None)
    return out


def checkpoint_signature_valid(cp: AuditCheckpoint) -> bool:
    note = signing.checkpoint_note(cp.tree_size, cp.root_hash,
                                   audit.format_timestamp(cp.created_at))
    return cp.key_id == signing.key_id() and signing.verify(note, cp.signature)


def checkpoint_dict(cp: AuditCheckpoint) -> dict[str, Any]:
    timestamp = audit.format_timestamp(cp.created_at)
    return {
        "number": cp.number, "tree_size": cp.tree_size, "root_hash": cp.root_hash,
        "timestamp": timestamp, "key_id": cp.key_id, "signature": cp.signature,
        "origin": signing.ORIGIN, "aborted_positions": cp.aborted,
        "signed_note": signing.checkpoint_note(cp.tree_size, cp.root_hash, timestamp).decode(),
    }


def _require_latest() -> AuditCheckpoint:
    cp = latest_checkpoint()
    if cp is None:
        raise Conflict(
            "No checkpoint yet: the sealer has not sealed any event (it runs every "
            f"{settings.AUDIT_SEAL_INTERVAL:g} s, or `manage.py seal_audit`).", code="not_sealed")
    return cp


def _tree_size(tree_size: int | None, latest: AuditCheckpoint, field: str = "tree_size") -> int:
    if tree_size is None:
        return latest.tree_size
    if tree_size > latest.tree_size:
        raise ValidationFailed(
            f"{field} {tree_size} is larger than the latest checkpoint (size "
            f"{latest.tree_size}).", errors={field: [f"At most {latest.tree_size}."]})
    return tree_size


def inclusion(*, position: int, tree_size: int | None, visible) -> dict[str, Any]:
    """The RFC 6962 audit path of the event at `position` in the tree of `tree_size` events
    (default: the latest checkpoint). `visible` is the queryset of events the caller may read.
    The event is given as its columns read now, so an event edited after sealing yields a leaf
    that no longer leads to the signed root."""
    latest = _require_latest()
    size = _tree_size(tree_size, latest)
    if position > size:
        if tree_size is not None:
            raise ValidationFailed(f"position {position} is beyond the tree of size {size}.",
                                   errors={"position": [f"At most {size}."]})
        if AuditEvent.objects.filter(seq=position).exists():
            raise Conflict(
                f"Event #{position} is awaiting seal: the latest checkpoint covers events "
                f"1–{size}; the sealer runs every {settings.AUDIT_SEAL_INTERVAL:g} s.",
                code="not_sealed")
        raise NotFound(f"No audit event at position {position}.")
    event = visible.filter(seq=position).first()
    if event is None:
        raise NotFound(f"No audit event at position {position} that you may read.")
    body = audit.event_body(event)
    src = DbSource()
    src.prefetch(size, position - 1)
    path = merkle.inclusion_proof(src, position - 1, size)
    cp = latest if size == latest.tree_size else (
        AuditCheckpoint.objects.filter(tree_size=size).first())
    return {
        "position": position, "leaf_index": position - 1, "tree_size": size,
        "root_hash": cp.root_hash if cp else merkle.root(src, size).hex(), "event": body,
        "leaf_hash": merkle.leaf_hash(body.encode()).hex(),
        "audit_path": [h.hex() for h in path],
        "checkpoint": checkpoint_dict(cp) if cp else None,
    }


def consistency(*, first: int, second: int) -> dict[str, Any]:
    """RFC 6962 consistency proof: the tree of `second` events extends that of `first`."""
    latest = _require_latest()
    second = _tree_size(second, latest, "second")
    if first > second:
        raise ValidationFailed(f"first ({first}) must not be larger than second ({second}).",
                               errors={"first": [f"At most {second}."]})
    src = DbSource()
    src.prefetch(second, first - 1)
    cps = {cp.tree_size: cp for cp in AuditCheckpoint.objects.filter(tree_size__in=[first, second])}
    return {
        "first": first, "second": second,
        "first_root": merkle.root(src, first).hex(), "second_root": merkle.root(src, second).hex(),
        "proof": [h.hex() for h in merkle.consistency_proof(src, first, second)],
        "first_checkpoint": checkpoint_dict(cps[first]) if first in cps else None,
        "second_checkpoint": checkpoint_dict(cps[second]) if second in cps else None,
    }
