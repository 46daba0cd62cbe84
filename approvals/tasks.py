"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import urllib.error
import urllib.request

from celery import shared_task
from django.utils import timezone

from approvals import notifications, services
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
    body = notifications.encode(delivery.payload)
    request = urllib.request.Request(
        delivery.endpoint.url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "Gatehouse-Webhooks/1",
                 "X-Gatehouse-Event": delivery.event_type,
                 "X-Gatehouse-Delivery": str(delivery.pk),
                 "X-Gatehouse-Signature": notifications.sign(delivery.endpoint.secret, body)},
    )
    attempt = {"at": timezone.now().isoformat(), "status_code": None, "error": ""}
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            attempt["status_code"] = response.status
    except urllib.error.HTTPError as exc:
        attempt["status_code"], attempt["error"] = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        attempt["error"] = str(getattr(exc, "reason", exc))
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
