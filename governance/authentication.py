"""API token authentication: `Authorization: Token <key>` or `Bearer <key>`; keys stored hashed."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import authentication, exceptions

from governance.models import ApiToken, RoleGrant, User


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _token_user_sql(vendor: str) -> str:
    agg = "string_agg" if vendor == "postgresql" else "group_concat"
    return f"""
        SELECT u.*, t.id AS token_id, t.last_used_at AS token_last_used_at,
            (SELECT {agg}(g.role, ',') FROM {RoleGrant._meta.db_table} g
             WHERE g.user_id = u.id) AS role_list,
            (SELECT {agg}(CAST(m.team_id AS text), ',') FROM {User.teams.through._meta.db_table} m
             WHERE m.user_id = u.id) AS team_list
        FROM {ApiToken._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id
        WHERE t.key_hash = %s AND t.revoked_at IS NULL
    """


def user_for_key(key: str):
    """The active user owning an unrevoked token with this key, or None. Every API request
    passes here, so it is one plain query that also brings the user's roles and team ids
    (nearly every request checks them)."""
    found = list(User.objects.raw(_token_user_sql(connection.vendor), [hash_key(key)]))
    if not found or not found[0].is_active:
        return None
    user = found[0]
    user.remember_access(
        _split(user.role_list), [int(t) for t in _split(user.team_list)]
    )
    now = timezone.now()
    last_used = user.token_last_used_at
    if isinstance(last_used, str):
        last_used = parse_datetime(last_used)
    if last_used is not None and timezone.is_naive(last_used):
        # SQLite hands a raw column back without its zone; Gatehouse stores UTC.
        last_used = last_used.replace(tzinfo=dt.UTC)
    if last_used is None or (now - last_used).total_seconds() > 60:
        ApiToken.objects.filter(pk=user.token_id).update(last_used_at=now)
    return user


def _split(joined: str | None) -> list[str]:
    return joined.split(",") if joined else []


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
