"""Writes for people, teams and tokens. Each writes its audit event in the same transaction."""

from __future__ import annotations

import secrets

from django.db import transaction

from common.errors import ValidationFailed
from governance import audit
from governance.authentication import hash_key
from governance.choices import Role
from governance.models import ApiToken, RoleGrant, Team, User


@transaction.atomic
def team_get_or_create(*, name: str, actor=None) -> Team:
    team, created = Team.objects.get_or_create(name=name, defaults={"title": name.title()})
    if created:
        audit.record(action="governance.team.created", actor=actor, target=team)
    return team


@transaction.atomic
def user_create(
    *,
    username: str,
    roles: list[str],
    teams: list[str] | None = None,
    password: str | None = None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    actor=None,
) -> User:
    """Create a user holding `roles`, member of `teams` (created if missing)."""
    bad = [r for r in roles if r not in Role.values]
    if bad:
        raise ValidationFailed(
            f"Unknown role(s): {', '.join(bad)}. Valid roles: {', '.join(Role.values)}.",
            errors={"roles": [f"Unknown role {r!r}." for r in bad]},
        )
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(f"User {username!r} already exists.", errors={"username": ["taken"]})
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.is_staff = Role.ADMIN in roles or Role.AUDITOR in roles
    user.is_superuser = Role.ADMIN in roles
    user.save()
    RoleGrant.objects.bulk_create([RoleGrant(user=user, role=r) for r in sorted(set(roles))])
    team_objs = [team_get_or_create(name=t, actor=actor) for t in teams or []]
    user.teams.set(team_objs)
    audit.record(
        action="governance.user.created",
        actor=actor,
        target=user,
        payload={"roles": sorted(set(roles)), "teams": sorted(t.name for t in team_objs)},
    )
    return user


@transaction.atomic
def user_grant_roles(*, user: User, roles: list[str], teams: list[str] | None = None, actor=None) -> User:
    before = sorted(user.role_names)
    for r in roles:
        if r not in Role.values:
            raise ValidationFailed(f"Unknown role {r!r}.")
        RoleGrant.objects.get_or_create(user=user, role=r)
    for t in teams or []:
        user.teams.add(team_get_or_create(name=t, actor=actor))
    user._role_cache = None
    user._team_cache = None
    audit.record(
        action="governance.user.updated",
        actor=actor,
        target=user,
        payload={"before": {"roles": before}, "after": {"roles": sorted(user.role_names)}},
    )
    return user


@transaction.atomic
def user_set_access(
    *, user: User, roles: list[str], teams: list[str], actor=None, source: str = ""
) -> bool:
    """Make `roles` and `teams` exactly the user's roles and team memberships (teams are created
    if missing). Staff and superuser follow the roles as in `user_create`, so an administrator
    role taken away also takes the admin site away. Writes one `governance.user.updated` event
    with before/after when anything changed; returns whether it did."""
    bad = [r for r in roles if r not in Role.values]
    if bad:
        raise ValidationFailed(f"Unknown role(s): {', '.join(bad)}.", errors={"roles": bad})
    before_roles = sorted(RoleGrant.objects.filter(user=user).values_list("role", flat=True))
    before_teams = sorted(user.teams.values_list("name", flat=True))
    after_roles, after_teams = sorted(set(roles)), sorted(set(teams))
    if (before_roles, before_teams) == (after_roles, after_teams):
        return False
    RoleGrant.objects.filter(user=user).exclude(role__in=after_roles).delete()
    RoleGrant.objects.bulk_create(
        [RoleGrant(user=user, role=r) for r in after_roles if r not in before_roles]
    )
    user.teams.set([team_get_or_create(name=t, actor=actor) for t in after_teams])
    is_staff = Role.ADMIN in after_roles or Role.AUDITOR in after_roles
    is_superuser = Role.ADMIN in after_roles
    if (user.is_staff, user.is_superuser) != (is_staff, is_superuser):
        user.is_staff, user.is_superuser = is_staff, is_superuser
        user.save(update_fields=["is_staff", "is_superuser"])
    user._role_cache = None
    user._team_cache = None
    audit.record(
        action="governance.user.updated",
        actor=actor,
        target=user,
        payload={
            "before": {"roles": before_roles, "teams": before_teams},
            "after": {"roles": after_roles, "teams": after_teams},
            **({"source": source} if source else {}),
        },
    )
    return True


@transaction.atomic
def token_create(*, user: User, name: str = "", actor=None) -> tuple[ApiToken, str]:
    """Create a token; returns (row, key). The key is never stored, only its sha256."""
    key = "gh_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:10], key_hash=hash_key(key))
    audit.record(
        action="governance.token.created",
        actor=actor or user,
        target=token,
        object_repr=f"token {token.prefix}… for {user.username}",
        payload={"user": user.username, "name": name},
    )
    return token, key
