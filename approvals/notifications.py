"""Who hears about what: in-app notifications and e-mail (Django's backend); signed webhooks to
outside systems are approvals.webhooks.

Everything is sent after the transaction commits, so a failed request notifies nobody; a failing
webhook endpoint never blocks the workflow (delivery runs in Celery with retries)."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from approvals.models import Notification
from governance.models import User
from governance.notifications import send_email


def request_url(req) -> str:
    try:
        path = reverse("approvals:promotion-detail", args=[req.pk])
    except NoReverseMatch:
        path = f"/api/v1/promotions/{req.pk}/"
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def notify(users: Iterable, *, kind: str, subject: str, body: str = "", link: str = "") -> None:
    """In-app notification rows now (inside the caller's transaction, so they share its fate);
    e-mail through governance's channel after commit."""
    recipients = {u.pk: u for u in users if u is not None and getattr(u, "is_active", True)}
    if not recipients:
        return
    Notification.objects.bulk_create(
        [Notification(user=u, kind=kind, subject=subject[:300], body=body, link=link) for u in recipients.values()]
    )
    ids = sorted(recipients)
    transaction.on_commit(lambda: send_email(ids, subject, body, link))


def in_app_channel(user_ids: list[int], subject: str, body: str, link: str) -> None:
    """governance.notify channel: what other apps announce (overdue reviews, failed jobs…) also
    lands in the users' in-app inbox."""
    Notification.objects.bulk_create(
        [Notification(user_id=uid, kind="general", subject=subject[:300], body=body, link=link)
         for uid in user_ids]
    )


def _users_with_roles(roles: Iterable[str]):
    return User.objects.filter(role_grants__role__in=list(roles), is_active=True).distinct()


def _stakeholders(req) -> list:
    return [req.requested_by, req.model.owner]


def promotion_opened(req) -> None:
    notify(
        _users_with_roles(req.required_roles), kind="promotion_awaiting",
        subject=f"Approval needed: {req.version.ref} → {req.target_stage}",
        body=f"{req.requested_by.username} asks to promote {req.version.ref} to {req.target_stage}: "
             f"{req.justification}\nRoles needed: {', '.join(req.required_roles)}.",
        link=request_url(req),
    )


def decision_recorded(req, decision) -> None:
    notify(
        _stakeholders(req), kind="promotion_decision",
        subject=f"{decision.approver.username} chose {decision.decision} ({decision.role}) on #{req.pk}",
        body=decision.comment, link=request_url(req),
    )


def promotion_state_changed(req, *, actor) -> None:
    recipients = _stakeholders(req)
    if req.state in ("revoked", "expired"):
        recipients += list(_users_with_roles(["validator"]))
    notify(
        recipients, kind=f"promotion_{req.state}",
        subject=f"Promotion #{req.pk} {req.version.ref} → {req.target_stage}: {req.state}",
        body=req.state_reason, link=request_url(req),
    )


def version_rolled_back(version, *, actor, reason: str, from_stage: str) -> None:
    model = version.model
    recipients = [model.owner, *model.developers.all(), *_users_with_roles(["validator"])]
    notify(
        recipients, kind="version_rolled_back",
        subject=f"Emergency rollback: {version.ref} removed from {from_stage}",
        body=f"By {getattr(actor, 'username', 'system')}: {reason}",
        link=settings.PUBLIC_BASE_URL.rstrip("/") + f"/models/{model.name}/",
    )
