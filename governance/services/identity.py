"""Single sign-on writes: linking OIDC subjects to users, and bringing a user's roles and teams
in line with the provider's claims at each sign-in. Each writes its audit events in the same
transaction."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from common.errors import ValidationFailed
from governance import audit
from governance.models import ExternalIdentity, RoleGrant, User
from governance.oidc import claims as oidc_claims
from governance.services.people import user_create, user_set_access

_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


@transaction.atomic
def external_identity_link(
    *, user: User, issuer: str, subject: str, actor=None
) -> ExternalIdentity:
    """Link the OIDC subject `subject` of `issuer` to `user` (a pipeline's workload identity, or
    a person at first sign-in). A subject belongs to one user: linking it to another is refused."""
    if not issuer or not subject:
        raise ValidationFailed("Both the issuer and the subject are needed to link an identity.")
    existing = (
        ExternalIdentity.objects.select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    if existing is not None:
        if existing.user_id == user.pk:
            return existing
        raise ValidationFailed(
            f"Subject {subject!r} of {issuer} is already linked to user "
            f"{existing.user.username!r}.",
            errors={"subject": ["already linked"]},
        )
    identity = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    audit.record(
        action="governance.identity.linked",
        actor=actor,
        target=identity,
        object_repr=f"{subject} at {issuer} -> {user.username}",
        payload={"user": user.username, "issuer": issuer, "subject": subject},
    )
    return identity


def _username_from(claims: Mapping[str, Any], username_claim: str) -> str:
    raw = str(claims.get(username_claim) or claims.get("email") or claims["sub"])
    return _USERNAME_UNSAFE.sub("-", raw)[:140] or "user"


def _free_username(base: str) -> str:
    candidate, n = base, 1
    while User.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@transaction.atomic
def oidc_user_sign_in(
    *,
    issuer: str,
    claims: Mapping[str, Any],
    role_claim: str,
    role_map: Mapping[str, Any],
    team_claim: str,
    team_map: Mapping[str, Any],
    username_claim: str = "preferred_username",
) -> User:
    """The user signing in with these (already verified) claims, created at first sign-in.

    The user is found by issuer + `sub`, never by e-mail (a provider may let people change it).
    At first sign-in a local user of the same username that has no identity yet is linked
    (an account that existed before single sign-on); otherwise a new user is created. Then the
    roles and teams the maps manage are set to what the claims say now, so a role removed at
    the provider is gone from this sign-in on; the change is audited as `governance.user.updated`
    with source "oidc".
    """
    subject = str(claims["sub"])
    access = oidc_claims.access_from_claims(
        claims, role_claim=role_claim, role_map=role_map, team_claim=team_claim,
        team_map=team_map,
    )
    identity = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    if identity is None:
        username = _username_from(claims, username_claim)
        user = User.objects.filter(username=username, external_identities__isnull=True).first()
        if user is None:
            user = user_create(
                username=_free_username(username),
                roles=sorted(access.roles),
                teams=sorted(access.teams),
                email=str(claims.get("email") or ""),
                first_name=str(claims.get("given_name") or "")[:150],
                last_name=str(claims.get("family_name") or "")[:150],
            )
        identity = external_identity_link(user=user, issuer=issuer, subject=subject)
    user = identity.user
    current_roles = set(RoleGrant.objects.filter(user=user).values_list("role", flat=True))
    current_teams = set(user.teams.values_list("name", flat=True))
    user_set_access(
        user=user,
        roles=sorted(oidc_claims.merge(
            current_roles, access.roles, oidc_claims.managed_roles(role_map))),
        teams=sorted(oidc_claims.merge(
            current_teams, access.teams, oidc_claims.managed_teams(team_map))),
        source="oidc",
    )
    ExternalIdentity.objects.filter(pk=identity.pk).update(last_seen_at=timezone.now())
    return user
