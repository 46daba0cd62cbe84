"""API token authentication: `Authorization: Token <key>` or `Bearer <key>`; keys stored hashed."""

from __future__ import annotations

import hashlib

from django.db.models import F, OuterRef
from django.utils import timezone
from rest_framework import authentication, exceptions

from common.db import JoinedValues, split_joined
from governance.models import ApiToken, RoleGrant, User


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def user_for_key(key: str):
    """The active user owning an unrevoked token with this key, or None. The user's roles and
    team ids come in the same query: nearly every API request checks them."""
    owner = OuterRef("user_id")
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_key(key), revoked_at__isnull=True)
        .annotate(
            role_list=JoinedValues(RoleGrant.objects.filter(user_id=owner).values(value=F("role"))),
            team_list=JoinedValues(
                User.teams.through.objects.filter(user_id=owner).values(value=F("team_id"))
            ),
        )
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    token.user.remember_access(
        split_joined(token.role_list), [int(t) for t in split_joined(token.team_list)]
    )
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class TokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be '<Token|Bearer> <key>'.")
        user = user_for_key(header[1])
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return (user, None)

    def authenticate_header(self, request) -> str:
        return "Token"
