"""Notifications: one stable hook, `governance.notify(user_ids, subject, body, link)`.

Sends e-mail through Django's e-mail backend after the current transaction commits, so a failed
request notifies nobody. Other apps may add channels (in-app notifications) with `add_channel`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)
_CHANNELS: list[Callable[[list[int], str, str, str], None]] = []


def add_channel(channel: Callable[[list[int], str, str, str], None]) -> None:
    """Register another delivery channel, called as channel(user_ids, subject, body, link)."""
    if channel not in _CHANNELS:
        _CHANNELS.append(channel)


def _absolute(link: str) -> str:
    if not link or link.startswith(("http://", "https://")):
        return link
    return settings.PUBLIC_BASE_URL.rstrip("/") + "/" + link.lstrip("/")


def send_email(user_ids: list[int], subject: str, body: str, link: str) -> None:
    from django.core.mail import send_mail

    from governance.models import User

    recipients = sorted(
        set(User.objects.filter(pk__in=user_ids, is_active=True).exclude(email="")
            .values_list("email", flat=True))
    )
    if not recipients:
        return
    text = body + (f"\n\n{_absolute(link)}" if link else "")
    try:
        send_mail(f"[Gatehouse] {subject}", text, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # noqa: BLE001 - a mail outage must not break the committed change
        log.exception("Could not send notification %r to %s", subject, recipients)


def notify(user_ids: Iterable[int | None], subject: str, body: str, link: str = "") -> None:
    """Tell these users something, once the surrounding transaction commits."""
    ids = sorted({int(u) for u in user_ids if u})
    if not ids:
        return

    def deliver() -> None:
        send_email(ids, subject, body, link)
        for channel in list(_CHANNELS):
            try:
                channel(ids, subject, body, link)
            except Exception:  # noqa: BLE001 - one failing channel must not stop the others
                log.exception("Notification channel %r failed", channel)

    transaction.on_commit(deliver)
