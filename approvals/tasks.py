"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from approvals import services, webhooks
from approvals.choices import DeliveryStatus
from approvals.models import WebhookDelivery

WEBHOOK_MAX_RETRIES = 5


class WebhookFailed(Exception):
    pass


@shared_task(bind=True, max_retries=WEBHOOK_MAX_RETRIES, acks_late=True)
def deliver_webhook(self, delivery_id: int) -> str:
    """POST the signed payload; retry with exponential backoff (2, 4, 8 … s); every attempt is
    recorded on the delivery row."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.status == DeliveryStatus.DELIVERED:
        return "already delivered"
    attempt = webhooks.post(delivery)
    ok = attempt["status_code"] is not None and 200 <= attempt["status_code"] < 300
    final = ok or self.request.retries >= WEBHOOK_MAX_RETRIES
    status = DeliveryStatus.DELIVERED if ok else (DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=[*delivery.attempts, attempt], status=status,
        delivered_at=timezone.now() if ok else None,
    )
    if not final:
        raise self.retry(countdown=2 ** (self.request.retries + 1), exc=WebhookFailed(attempt["error"]))
    return status


@shared_task
def expire_promotions() -> list[int]:
    return services.promotion_expire_due()


@shared_task
def enforce_conditions() -> list[int]:
    return services.conditions_enforce()


@shared_task
def sweep_exceptions() -> dict[str, list[int]]:
    """Policy exceptions: the 7-day notice (once), then expiry (the gate closes again)."""
    from approvals import exceptions

    return exceptions.exceptions_sweep()


@shared_task(acks_late=True, name="approvals.tasks.recheck_promotions")
def recheck_promotions(model_name: str) -> list[int]:
    """After evidence about `model_name` changed (governance.evidence_changed): its live
    promotion requests re-judge their evidence; returns the ids revoked."""
    return services.promotion_recheck_for_model(model_name)
