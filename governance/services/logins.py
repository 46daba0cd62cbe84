"""Writes about sign-in itself: lifting a login throttle lock-out before it ends by itself."""

from __future__ import annotations

from django.db import transaction

from common.errors import ValidationFailed
from governance import audit


@transaction.atomic
def login_unlock(*, username: str = "", ip_address: str = "", actor=None) -> int:
    """Forget the failed sign-ins of `username` and/or from `ip_address`, which lifts their
    lock-out (a helpdesk's "unlock my account"); returns how many attempt records went. The
    audit event names both and who did it. (The axes admin, whose deletes would not be audited,
    is off.)"""
    from axes.utils import reset

    if not username and not ip_address:
        raise ValidationFailed("Name a username or an address to unlock.")
    removed = reset(username=username or None, ip=ip_address or None)
    audit.record(
        action="governance.login.unlocked",
        actor=actor,
        object_type="governance.user" if username else "client_address",
        object_id=username or ip_address,
        object_repr=f"sign-in for {username or '(any username)'} from {ip_address or 'any address'}",
        payload={"username": username, "ip_address": ip_address, "attempts_removed": removed},
    )
    return removed
