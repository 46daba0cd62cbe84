"""Webhooks, in one place: which audit events go to which endpoint, the signed payload, and one
delivery attempt over HTTP. Outside systems (a SIEM, a ticketing tool) watch the audit log, so
webhooks subscribe to it; nothing in Gatehouse reacts to them.

The rules: deliveries are queued after the change commits (a failed request sends nothing),
each is a row with every attempt recorded, and a failing endpoint never blocks the workflow
(the Celery task `approvals.tasks.deliver_webhook` retries with backoff).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.utils import timezone

from approvals.models import WebhookDelivery, WebhookEndpoint


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def payload_for(event) -> dict:
    return {
        "event": event.action, "seq": event.seq, "timestamp": event.timestamp.isoformat(),
        "actor": event.actor_name, "object": {"type": event.object_type, "id": event.object_id,
                                              "repr": event.object_repr},
        "model": event.model_name, "payload": event.payload, "audit_hash": event.hash,
    }


# Which endpoints might want an event: read at most once per WEBHOOK_ENDPOINTS_CACHE_SECONDS per
# process instead of once per audit event (every write in Gatehouse records one: on the
# registration hot path the lookup was one statement in seven). A change saved in this process is
# seen at once (post_save/post_delete in approvals.apps call `forget_endpoints`); another process
# sees a new endpoint within the cache time. When some endpoint wants the event, the endpoints are
# read again before deliveries are written, so one deleted or disabled meanwhile gets nothing.
_endpoints: tuple[float, list[WebhookEndpoint]] | None = None


def active_endpoints() -> list[WebhookEndpoint]:
    global _endpoints
    now = time.monotonic()
    if _endpoints is None or _endpoints[0] <= now:
        fresh = list(WebhookEndpoint.objects.filter(is_active=True))
        _endpoints = (now + settings.WEBHOOK_ENDPOINTS_CACHE_SECONDS, fresh)
    return _endpoints[1]


def forget_endpoints(**_signal) -> None:
    global _endpoints
    _endpoints = None


def on_audit_event(event) -> None:
    """Audit subscriber (after commit): queue a delivery per endpoint that wants this event."""
    wanting = [e.pk for e in active_endpoints() if e.wants(event.action)]
    if not wanting:
        return
    from approvals.tasks import deliver_webhook

    payload = payload_for(event)
    for endpoint in WebhookEndpoint.objects.filter(pk__in=wanting, is_active=True):
        if not endpoint.wants(event.action):
            continue
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_type=event.action, payload=payload
        )
        deliver_webhook.delay(delivery.pk)


def post(delivery: WebhookDelivery) -> dict[str, Any]:
    """One signed POST of the delivery's payload; the attempt as recorded on the row."""
    body = encode(delivery.payload)
    request = urllib.request.Request(
        delivery.endpoint.url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "Gatehouse-Webhooks/1",
                 "X-Gatehouse-Event": delivery.event_type,
                 "X-Gatehouse-Delivery": str(delivery.pk),
                 "X-Gatehouse-Signature": sign(delivery.endpoint.secret, body)},
    )
    attempt: dict[str, Any] = {"at": timezone.now().isoformat(), "status_code": None, "error": ""}
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            attempt["status_code"] = response.status
    except urllib.error.HTTPError as exc:
        attempt["status_code"], attempt["error"] = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        attempt["error"] = str(getattr(exc, "reason", exc))
    return attempt
