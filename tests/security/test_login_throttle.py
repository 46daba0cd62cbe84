"""Login throttling: 10 failed sign-ins for a username or from an address lock it for the
configured time, the lock is audited, and the answer says when to try again."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.test import Client
from rest_framework.test import APIClient

from governance import services as gov
from governance.models import AuditEvent

pytestmark = pytest.mark.django_db


def _login(client: Client, username: str, password: str, ip: str):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_ten_failures_for_a_user_lock_the_account_and_say_when_to_retry(personas):
    client = Client()
    for i in range(9):
        response = _login(client, "engineer", "wrong", f"10.1.0.{i}")
        assert response.status_code == 200  # the form again, with its error
    assert not AuditEvent.objects.filter(action="governance.login.locked_out").exists()
    response = _login(client, "engineer", "wrong", "10.1.0.99")
    assert response.status_code == 429

    # Now even the right password, from yet another address, is refused until the lock ends.
    response = _login(client, "engineer", "pw-engineer", "10.1.0.200")
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed sign-in attempts (10)" in body and "try again then" in body
    assert "locked until" in body and response["Retry-After"] == str(15 * 60)
    assert "_auth_user_id" not in client.session

    events = AuditEvent.objects.filter(action="governance.login.locked_out")
    assert events.count() == 1  # the lock, not every refused attempt
    event = events.get()
    assert event.object_id == str(personas["engineer"].pk)
    assert event.payload["username"] == "engineer" and event.payload["failures"] == 10
    until = dt.datetime.fromisoformat(event.payload["locked_until"])
    assert dt.timedelta(minutes=14) < until - event.timestamp <= dt.timedelta(minutes=15)


def test_ten_failures_from_an_address_lock_that_address_only(personas):
    client = Client()
    for i in range(10):
        _login(client, f"guess-{i}", "wrong", "203.0.113.7")
    assert _login(client, "validator", "pw-validator", "203.0.113.7").status_code == 429
    event = AuditEvent.objects.get(action="governance.login.locked_out")
    assert event.payload["ip_address"] == "203.0.113.7"
    # The same person from another address signs in.
    response = _login(Client(), "validator", "pw-validator", "198.51.100.1")
    assert response.status_code == 302


def test_the_lock_ends_after_the_configured_time(personas, settings):
    from axes.models import AccessAttempt
    from django.utils import timezone

    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=5)
    client = Client()
    for i in range(10):
        _login(client, "engineer", "wrong", f"10.2.0.{i}")
    assert _login(client, "engineer", "pw-engineer", "10.2.0.50").status_code == 429
    # Four minutes later: still locked. Six minutes after the last failure: unlocked.
    last = AccessAttempt.objects.order_by("-attempt_time").first().attempt_time
    AccessAttempt.objects.update(attempt_time=last - dt.timedelta(minutes=4))
    assert _login(client, "engineer", "pw-engineer", "10.2.0.50").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=6))
    assert _login(client, "engineer", "pw-engineer", "10.2.0.50").status_code == 302


def test_unknown_api_tokens_lock_the_address_but_valid_tokens_still_work(personas):
    _, key = gov.token_create(user=personas["engineer"])
    client = APIClient(REMOTE_ADDR="192.0.2.9")
    client.credentials(HTTP_AUTHORIZATION="Token gh_not-a-real-key")
    for _ in range(9):
        assert client.get("/api/v1/me/").status_code == 401
    response = client.get("/api/v1/me/")
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert "locked until" in response.json()["detail"] and response.json()["retry_after"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me/").status_code == 200


def test_mlflow_basic_auth_is_throttled_in_mlflow_error_shape(personas):
    client = APIClient(REMOTE_ADDR="192.0.2.44")
    wrong = base64.b64encode(b"engineer:wrong").decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {wrong}")
    url = "/api/2.0/mlflow/registered-models/search"
    for _ in range(9):
        assert client.get(url).status_code == 401
    response = client.get(url)
    assert response.status_code == 429
    assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert "locked until" in response.json()["message"]
    right = base64.b64encode(b"engineer:pw-engineer").decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {right}")
    assert client.get(url).status_code == 429  # the account is locked too


def test_an_administrator_unlocks_an_account_and_it_is_audited(personas):
    from django.core.management import call_command

    client = Client()
    for i in range(10):
        _login(client, "engineer", "wrong", f"10.3.0.{i}")
    assert _login(client, "engineer", "pw-engineer", "10.3.0.99").status_code == 429
    call_command("login_unlock", "--username", "engineer")
    assert _login(client, "engineer", "pw-engineer", "10.3.0.99").status_code == 302
    event = AuditEvent.objects.get(action="governance.login.unlocked")
    assert event.payload["username"] == "engineer" and event.payload["attempts_removed"] >= 10
