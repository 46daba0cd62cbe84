"""API tokens: `Token` or `Bearer`, roles and teams read with the token, revocation, last use."""

import datetime as dt

from django.utils import timezone
from rest_framework.test import APIClient

from governance import services
from governance.models import ApiToken

ME = "/api/v1/me/"


def _client(key: str, keyword: str = "Token") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {key}")
    return client


def test_token_and_bearer_bring_every_role_and_team(db):
    user = services.user_create(username="multi", roles=["engineer", "model_owner"],
                                teams=["credit", "fraud"])
    _, key = services.token_create(user=user)
    for keyword in ("Token", "Bearer"):
        me = _client(key, keyword).get(ME).json()
        assert me["username"] == "multi"
        assert me["roles"] == ["engineer", "model_owner"]
        assert me["teams"] == ["credit", "fraud"]


def test_a_user_without_roles_or_teams_is_read_as_such(db):
    user = services.user_create(username="bare", roles=[])
    _, key = services.token_create(user=user)
    me = _client(key).get(ME).json()
    assert (me["roles"], me["teams"]) == ([], [])


def test_a_role_granted_counts_from_the_next_request(db):
    user = services.user_create(username="grow", roles=["engineer"], teams=["credit"])
    _, key = services.token_create(user=user)
    client = _client(key)
    assert "validator" not in client.get(ME).json()["roles"]
    services.user_grant_roles(user=user, roles=["validator"], teams=["risk"])
    me = client.get(ME).json()
    assert "validator" in me["roles"] and me["teams"] == ["credit", "risk"]


def test_revoked_tokens_unknown_keys_and_inactive_users_get_401(db):
    user = services.user_create(username="gone", roles=["engineer"], teams=["credit"])
    token, key = services.token_create(user=user)
    assert _client(key).get(ME).status_code == 200
    assert _client(key + "x").get(ME).status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    revoked = _client(key).get(ME)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    _, other = services.token_create(user=user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert _client(other).get(ME).status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(db):
    user = services.user_create(username="used", roles=["engineer"], teams=["credit"])
    token, key = services.token_create(user=user)
    client = _client(key)
    client.get(ME)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None and timezone.now() - first < dt.timedelta(seconds=30)
    client.get(ME)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    earlier = first - dt.timedelta(minutes=5)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=earlier)
    client.get(ME)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first
