"""Webhooks: signed JSON delivered by Celery with retries against a real local HTTP receiver."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import transaction

from approvals.models import WebhookDelivery, WebhookEndpoint
from governance import audit
from governance.models import Team


class Receiver:
    """A loopback HTTP server that fails the first `failures` requests with 503."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.received: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                code = 503 if len(outer.received) <= outer.failures else 204
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def eager_celery():
    """Run tasks in-process (retries included) so the test sees every attempt."""
    from config.celery import app

    saved = {k: app.conf[k] for k in ("task_always_eager", "task_eager_propagates")}
    app.conf.update(task_always_eager=True, task_eager_propagates=False)
    yield
    app.conf.update(saved)


@pytest.fixture
def receiver():
    made = []

    def _make(failures=0):
        r = Receiver(failures)
        made.append(r)
        return r

    yield _make
    for r in made:
        r.close()


def _emit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        team = Team.objects.create(name="hooks")
        audit.record(action="governance.team.created", target=team)


def test_signed_delivery_and_retries_until_success(db, eager_celery, receiver, django_capture_on_commit_callbacks, monkeypatch):
    r = receiver(failures=2)
    endpoint = WebhookEndpoint.objects.create(name="siem", url=r.url, secret="s3cret",
                                              event_types=["governance.team.created"])
    _emit(django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "delivered"
    assert [a["status_code"] for a in delivery.attempts] == [503, 503, 204]
    headers, body = r.received[-1]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Gatehouse-Signature"] == expected
    payload = json.loads(body)
    assert payload["event"] == "governance.team.created" and payload["object"]["repr"] == "hooks"


def test_failing_endpoint_gives_up_and_never_blocks(db, eager_celery, receiver, django_capture_on_commit_callbacks, monkeypatch):
    from approvals import tasks

    monkeypatch.setattr(tasks, "WEBHOOK_MAX_RETRIES", 2)
    monkeypatch.setattr(tasks.deliver_webhook, "max_retries", 2)
    r = receiver(failures=100)
    WebhookEndpoint.objects.create(name="down", url=r.url, secret="k", event_types=["*"])
    _emit(django_capture_on_commit_callbacks)  # the change itself commits fine
    assert Team.objects.filter(name="hooks").exists()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert len(delivery.attempts) == 3 and all(a["status_code"] == 503 for a in delivery.attempts)


def test_unsubscribed_events_are_not_sent(db, receiver, django_capture_on_commit_callbacks):
    r = receiver()
    WebhookEndpoint.objects.create(name="only-promotions", url=r.url, secret="k",
                                   event_types=["approvals.promotion.executed"])
    _emit(django_capture_on_commit_callbacks)
    assert not WebhookDelivery.objects.exists() and r.received == []


def test_endpoints_are_read_once_per_cache_period_and_a_saved_change_is_seen_at_once(
    db, receiver, django_capture_on_commit_callbacks, django_assert_num_queries, settings
):
    settings.WEBHOOK_ENDPOINTS_CACHE_SECONDS = 60
    r = receiver()
    siem = WebhookEndpoint.objects.create(name="siem", url=r.url, secret="k",
                                          event_types=["governance.team.created"])
    _emit(django_capture_on_commit_callbacks)  # reads the endpoints
    from approvals import webhooks

    event = audit.AuditEvent.objects.latest("seq")
    with django_assert_num_queries(2):  # the wanting endpoints re-read, the delivery row
        webhooks.on_audit_event(event)
    assert WebhookDelivery.objects.filter(endpoint=siem).count() == 2
    siem.is_active = False
    siem.save()  # this process forgets what it read
    _emit_another(django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.filter(endpoint=siem).count() == 2


def test_an_endpoint_deleted_by_another_process_gets_nothing(
    db, receiver, django_capture_on_commit_callbacks, settings
):
    import time

    from approvals import webhooks

    settings.WEBHOOK_ENDPOINTS_CACHE_SECONDS = 60
    r = receiver()
    gone = WebhookEndpoint.objects.create(name="gone", url=r.url, secret="k", event_types=["*"])
    kept = WebhookEndpoint.objects.create(name="kept", url=r.url, secret="k", event_types=["*"])
    WebhookEndpoint.objects.filter(pk=gone.pk).delete()
    # As if the delete happened in another process: this one still holds both.
    webhooks._endpoints = (time.monotonic() + 60, [gone, kept])
    _emit(django_capture_on_commit_callbacks)
    assert list(WebhookDelivery.objects.values_list("endpoint__name", flat=True)) == ["kept"]


def _emit_another(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        team = Team.objects.create(name="hooks-2")
        audit.record(action="governance.team.created", target=team)


def test_an_event_nobody_subscribes_to_costs_no_query_once_endpoints_are_read(
    db, receiver, django_capture_on_commit_callbacks, django_assert_num_queries, settings
):
    from approvals import webhooks

    settings.WEBHOOK_ENDPOINTS_CACHE_SECONDS = 60
    r = receiver()
    WebhookEndpoint.objects.create(name="promotions", url=r.url, secret="k",
                                   event_types=["approvals.promotion.executed"])
    _emit(django_capture_on_commit_callbacks)
    event = audit.AuditEvent.objects.latest("seq")
    with django_assert_num_queries(0):
        webhooks.on_audit_event(event)
    assert not WebhookDelivery.objects.exists()
