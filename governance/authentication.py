"""API authentication: `Authorization: Token <key>` or `Bearer <key>` with a Gatehouse API key
(stored hashed), or `Bearer <jwt>` with an access token from the OIDC provider (workload
identity), verified against the provider's keys."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import authentication, exceptions

from common import rows as plain_rows
from governance.models import ApiToken, ExternalIdentity, RoleGrant, User
from governance.oidc import config as oidc_config
from governance.oidc import tokens as oidc_tokens


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _token_user_sql(vendor: str, user_columns: str) -> str:
    agg = "string_agg" if vendor == "postgresql" else "group_concat"
    return f"""
        SELECT {user_columns}, t.id, t.last_used_at,
            (SELECT {agg}(g.role, ',') FROM {RoleGrant._meta.db_table} g
             WHERE g.user_id = u.id),
            (SELECT {agg}(CAST(m.team_id AS text), ',') FROM {User.teams.through._meta.db_table} m
             WHERE m.user_id = u.id)
        FROM {ApiToken._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id
        WHERE t.key_hash = %s AND t.revoked_at IS NULL
    """


class ProviderUnavailable(exceptions.APIException):
    status_code = 503
    default_code = "identity_provider_unavailable"


def _identity_user_sql(vendor: str) -> str:
    agg = "string_agg" if vendor == "postgresql" else "group_concat"
    return f"""
        SELECT u.*,
            (SELECT {agg}(g.role, ',') FROM {RoleGrant._meta.db_table} g
             WHERE g.user_id = u.id) AS role_list,
            (SELECT {agg}(CAST(m.team_id AS text), ',') FROM {User.teams.through._meta.db_table} m
             WHERE m.user_id = u.id) AS team_list
        FROM {ExternalIdentity._meta.db_table} i JOIN {User._meta.db_table} u ON u.id = i.user_id
        WHERE i.issuer = %s AND i.subject = %s
    """


def user_for_access_token(token: str):
    """The active user linked to the subject of a verified OIDC access token. The subject is
    the OIDC_API_SUBJECT_CLAIM claim (default `sub`: for a pipeline's client-credentials token
    the provider's id of the pipeline's client; for a person, the `sub` their sign-in linked).
    One plain query, like the API key path; raises AuthenticationFailed saying what was wrong."""
    if not oidc_config.enabled():
        raise exceptions.AuthenticationFailed(
            "This server does not accept OIDC access tokens (OIDC_ISSUER is not set); "
            "use a Gatehouse API token."
        )
    try:
        claims = oidc_tokens.verify(
            token, audience=settings.OIDC_API_AUDIENCE, purpose="access token"
        )
    except oidc_tokens.ProviderUnavailable as exc:
        raise ProviderUnavailable(
            f"{exc} Try again shortly, or use a Gatehouse API token."
        ) from None
    except oidc_tokens.TokenRefused as exc:
        raise exceptions.AuthenticationFailed(str(exc)) from None
    subject = str(claims.get(settings.OIDC_API_SUBJECT_CLAIM) or "")
    found = list(
        User.objects.raw(
            _identity_user_sql(connection.vendor), [oidc_config.issuer(), subject]
        )
    )
    if not found:
        raise exceptions.AuthenticationFailed(
            f"The access token's subject {subject!r} is not linked to a Gatehouse user "
            "(an administrator links it with `manage.py oidc_link`)."
        )
    user = found[0]
    if not user.is_active:
        raise exceptions.AuthenticationFailed(f"User {user.username!r} is deactivated.")
    user.remember_access(_split(user.role_list), [int(t) for t in _split(user.team_list)])
    return user


def user_for_key(key: str):
    """The active user owning an unrevoked token with this key, or None. Every API request
    passes here, so it is one plain statement (prepared once per connection on PostgreSQL) that
    also brings the user's roles and team ids (nearly every request checks them)."""
    fields, user_columns = plain_rows.columns(User, "u")
    with plain_rows.prepared_cursor() as cursor:
        cursor.execute(_token_user_sql(connection.vendor, user_columns), [hash_key(key)])
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(fields)
    user = plain_rows.instance(User, fields, row[:n])
    if not user.is_active:
        return None
    token_id, last_used, role_list, team_list = row[n:]
    user.token_id = token_id
    user.remember_access(_split(role_list), [int(t) for t in _split(team_list)])
    now = timezone.now()
    if isinstance(last_used, str):
        last_used = parse_datetime(last_used)
    if last_used is not None and timezone.is_naive(last_used):
        # SQLite hands a raw column back without its zone; Gatehouse stores UTC.
        last_used = last_used.replace(tzinfo=dt.UTC)
    if last_used is None or (now - last_used).total_seconds() > 60:
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
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
        if oidc_tokens.looks_like_jwt(header[1]):
            return (user_for_access_token(header[1]), None)
        user = user_for_key(header[1])
        if user is None:
            # Counted as a failed sign-in from this address (login throttle); only here, so a
            # valid key costs nothing more than its one query.
            user_login_failed.send(
                sender=__name__, credentials={"username": None}, request=request._request
            )
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return (user, None)

    def authenticate_header(self, request) -> str:
        return "Token"
