"""The API accepts OIDC access tokens (JWT) from the trusted provider, verified against its
JWKS: a pipeline's client-credentials token acts as the user its subject is linked to."""

from __future__ import annotations

import base64
import json
import time

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from governance import services as gov
from governance.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pipeline_user(sso):
    user = gov.user_create(username="ci-credit", roles=["engineer"], teams=["credit"])
    call_command("oidc_link", "ci-credit", "--subject", "pipeline-ci")
    call_command("oidc_link", "ci-credit", "--subject", "pipeline-short")
    return user


def api(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/v1/me/")


def test_valid_workload_token_acts_as_the_linked_user(sso, pipeline_user):
    response = api(sso.client_token("pipeline-ci"))
    assert response.status_code == 200, response.json()
    assert response.json()["username"] == "ci-credit"
    assert response.json()["roles"] == ["engineer"] and response.json()["teams"] == ["credit"]
    event = AuditEvent.objects.get(action="governance.identity.linked", payload__subject="pipeline-ci")
    assert event.payload["user"] == "ci-credit" and event.payload["issuer"] == sso.issuer


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "pipeline-admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_tampered_token_is_refused(sso, pipeline_user):
    response = api(_tamper(sso.client_token("pipeline-ci")))
    assert response.status_code == 401
    assert "signature does not verify" in response.json()["detail"]


def test_expired_token_is_refused(sso, pipeline_user, settings):
    settings.OIDC_CLOCK_SKEW_SECONDS = 0
    token = sso.client_token("pipeline-short")  # lives one second
    time.sleep(2.1)
    response = api(token)
    assert response.status_code == 401
    assert "has expired" in response.json()["detail"]


def test_token_for_another_audience_is_refused(sso, pipeline_user):
    gov.external_identity_link(user=pipeline_user, issuer=sso.issuer, subject="other-app")
    response = api(sso.client_token("other-app"))
    assert response.status_code == 401
    assert "meant for audience 'other-api'" in response.json()["detail"]


def test_token_from_another_issuer_is_refused(sso, pipeline_user, settings):
    token = sso.client_token("pipeline-ci")
    settings.OIDC_ENDPOINTS = {"jwks_uri": f"{sso.issuer}/.well-known/jwks.json"}
    settings.OIDC_ISSUER = "https://login.bank.example/realms/staff"
    response = api(token)
    assert response.status_code == 401
    assert "not by the trusted issuer" in response.json()["detail"]


def test_valid_token_of_an_unlinked_subject_is_refused(sso):
    response = api(sso.client_token("pipeline-ci"))
    assert response.status_code == 401
    assert "'pipeline-ci' is not linked to a Gatehouse user" in response.json()["detail"]


def test_gatehouse_api_keys_keep_their_one_query_path(sso, personas, django_assert_num_queries):
    _, key = gov.token_create(user=personas["engineer"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    from governance.authentication import TokenAuthentication

    request = client.get("/api/v1/me/").wsgi_request
    assert request.user.username == "engineer"
    from rest_framework.request import Request

    with django_assert_num_queries(1):
        TokenAuthentication().authenticate(Request(request))


def test_jwt_without_sso_configured_is_refused_with_a_clear_message(sso, settings):
    token = sso.client_token("pipeline-ci")
    settings.OIDC_ISSUER = ""
    response = api(token)
    assert response.status_code == 401
    assert "does not accept OIDC access tokens" in response.json()["detail"]


def test_provider_keys_are_fetched_once_and_cached(sso, pipeline_user, monkeypatch):
    from governance.oidc import tokens

    fetches = []
    real = tokens._fetch_keys
    monkeypatch.setattr(tokens, "_fetch_keys", lambda uri: fetches.append(uri) or real(uri))
    token = sso.client_token("pipeline-ci")
    for _ in range(5):
        assert api(token).status_code == 200
    assert len(fetches) == 1


def test_provider_down_is_503_not_401(sso, pipeline_user, settings):
    token = sso.client_token("pipeline-ci")
    settings.OIDC_ENDPOINTS = {"jwks_uri": "http://127.0.0.1:9/o/.well-known/jwks.json"}
    response = api(token)
    assert response.status_code == 503
    assert "keys (JWKS) could not be read" in response.json()["detail"]
