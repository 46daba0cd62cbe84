"""Portal sign-in through the OIDC provider (code flow + PKCE): claims -> roles and teams,
roles removed at the provider removed here, and forged or foreign answers refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from governance.models import AuditEvent, ExternalIdentity, User

pytestmark = pytest.mark.django_db(transaction=True)


def start(client: Client) -> str:
    response = client.get("/accounts/oidc/authenticate/")
    assert response.status_code == 302
    return response["Location"]


def callback_path(location: str) -> str:
    parts = urlsplit(location)
    assert parts.path == "/accounts/oidc/callback/", location
    return f"{parts.path}?{parts.query}"


def sign_in(sso, client: Client, username: str, password: str):
    location = sso.sign_in(start(client), username, password)
    return client.get(callback_path(location))


def test_login_page_offers_the_provider(sso):
    page = Client().get("/accounts/login/")
    assert 'Sign in with Bank SSO' in page.content.decode()
    assert 'name="password"' in page.content.decode()  # LOCAL_LOGIN defaults to on


def test_authorization_request_uses_pkce_state_and_nonce(sso):
    query = parse_qs(urlsplit(start(Client())).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["response_type"] == ["code"] and query["client_id"] == ["gatehouse"]
    assert query["state"][0] and query["nonce"][0]


def test_first_sign_in_creates_the_user_with_mapped_roles_and_teams(sso):
    client = Client()
    response = sign_in(sso, client, "alice", "alice-sso-pw")
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(username="alice")
    assert sorted(user.role_names) == ["auditor", "validator"]
    assert sorted(user.teams.values_list("name", flat=True)) == ["risk"]  # all-staff unmapped
    assert (user.email, user.first_name) == ("alice@bank.example", "Alice")
    identity = ExternalIdentity.objects.get(user=user)
    assert identity.issuer == sso.issuer and identity.subject  # the provider's sub
    assert AuditEvent.objects.filter(action="governance.user.created", object_id=str(user.pk)).exists()
    assert AuditEvent.objects.filter(action="governance.identity.linked").count() == 1
    page = client.get("/")
    assert page.status_code == 200 and "alice" in page.content.decode()


def test_role_removed_at_the_provider_is_removed_at_next_sign_in_and_audited(sso):
    from governance import services as gov

    sign_in(sso, Client(), "alice", "alice-sso-pw")
    alice = User.objects.get(username="alice")
    # A role granted in Gatehouse itself, which the provider does not manage, stays.
    gov.user_grant_roles(user=alice, roles=["business_approver"])
    sso.set_claims("alice", roles=["gh-validator"], groups=["all-staff"])

    response = sign_in(sso, Client(), "alice", "alice-sso-pw")
    assert response.status_code == 302
    alice = User.objects.get(username="alice")
    assert sorted(alice.role_names) == ["business_approver", "validator"]
    assert list(alice.teams.values_list("name", flat=True)) == []
    assert not alice.is_staff  # the auditor role was what made alice staff
    event = AuditEvent.objects.filter(action="governance.user.updated").order_by("seq").last()
    assert event.payload["before"] == {
        "roles": ["auditor", "business_approver", "validator"], "teams": ["risk"]
    }
    assert event.payload["after"] == {"roles": ["business_approver", "validator"], "teams": []}
    assert event.payload["source"] == "oidc" and event.object_id == str(alice.pk)


def test_unchanged_claims_write_no_role_event(sso):
    sign_in(sso, Client(), "bob", "bob-sso-pw")
    before = AuditEvent.objects.filter(action="governance.user.updated").count()
    sign_in(sso, Client(), "bob", "bob-sso-pw")
    assert AuditEvent.objects.filter(action="governance.user.updated").count() == before


def test_existing_local_account_is_linked_not_duplicated(sso):
    # Bob had a local account before single sign-on: he keeps it (and its history).
    from governance import services as gov

    local = gov.user_create(username="bob", roles=["engineer"], teams=["fraud"], password="x" * 12)
    response = sign_in(sso, Client(), "bob", "bob-sso-pw")
    assert response.status_code == 302
    bob = User.objects.get(username="bob")
    assert bob.pk == local.pk and ExternalIdentity.objects.get(user=bob).issuer == sso.issuer
    assert sorted(bob.role_names) == ["engineer", "model_owner"]
    assert sorted(bob.teams.values_list("name", flat=True)) == ["credit", "fraud"]


def test_forged_state_is_refused(sso):
    client = Client()
    location = sso.sign_in(start(client), "alice", "alice-sso-pw")
    parts = urlsplit(location)
    code = parse_qs(parts.query)["code"][0]
    response = client.get("/accounts/oidc/callback/", {"code": code, "state": "forged-state"})
    assert response.status_code == 400
    assert "does not belong to a sign-in started in this browser" in response.content.decode()
    assert not User.objects.filter(username="alice").exists()
    assert "_auth_user_id" not in client.session


def test_callback_without_a_started_sign_in_is_refused(sso):
    response = Client().get("/accounts/oidc/callback/", {"code": "abc", "state": "xyz"})
    assert response.status_code == 400
    assert "unknown or reused state" in response.content.decode()


def test_forged_nonce_is_refused(sso):
    client = Client()
    location = sso.sign_in(start(client), "alice", "alice-sso-pw")
    state = parse_qs(urlsplit(location).query)["state"][0]
    session = client.session
    states = session["oidc_states"]
    states[state]["nonce"] = "a-nonce-this-browser-never-sent"
    session["oidc_states"] = states
    session.save()
    response = client.get(callback_path(location))
    assert response.status_code == 400
    assert "nonce does not match" in response.content.decode()
    assert not User.objects.filter(username="alice").exists()


def test_id_token_from_another_issuer_is_refused(sso, settings):
    # Gatehouse trusts issuer X but the provider it is sent to signs as another issuer.
    discovered = {
        name: f"{sso.issuer}/{path}"
        for name, path in [("authorization_endpoint", "authorize/"), ("token_endpoint", "token/"),
                           ("userinfo_endpoint", "userinfo/"),
                           ("jwks_uri", ".well-known/jwks.json")]
    }
    settings.OIDC_ENDPOINTS = discovered
    settings.OIDC_ISSUER = "https://login.bank.example/realms/staff"
    client = Client()
    response = sign_in(sso, client, "alice", "alice-sso-pw")
    assert response.status_code == 400
    body = response.content.decode()
    assert f"issued by &#x27;{sso.issuer}&#x27;" in body and "trusted issuer" in body
    assert not User.objects.filter(username="alice").exists()


def test_discovery_naming_another_issuer_is_refused(sso, settings):
    settings.OIDC_ISSUER = sso.issuer + "/"  # the document names it without the slash
    response = Client().get("/accounts/oidc/authenticate/")
    assert response.status_code == 503
    assert "names issuer" in response.content.decode()


def test_local_login_off_offers_only_single_sign_on(sso, settings, personas):
    settings.LOCAL_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = [
        b for b in settings.AUTHENTICATION_BACKENDS if not b.endswith("ModelBackend")
    ]
    client = Client()
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with Bank SSO" in page and 'name="password"' not in page
    response = client.post("/accounts/login/", {"username": "engineer", "password": "pw-engineer"})
    assert response.status_code == 403
    assert "Password sign-in is switched off" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # The admin's own login form is not a way round it.
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    # Single sign-on still works.
    assert sign_in(sso, client, "bob", "bob-sso-pw").status_code == 302


def test_provider_down_at_sign_in_says_so(sso, settings):
    settings.OIDC_ISSUER = "http://127.0.0.1:9/o"  # nothing listens on the discard port
    response = Client().get("/accounts/oidc/authenticate/")
    assert response.status_code == 503
    assert "Could not read the OIDC discovery document" in response.content.decode()
