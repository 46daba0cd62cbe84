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
