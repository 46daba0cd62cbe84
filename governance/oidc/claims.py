"""Claims -> Gatehouse roles and teams through the configured tables (pure; no ORM).

OIDC_ROLE_CLAIM names the claim holding the provider's role values (a dotted path reaches into
nested claims, e.g. Keycloak's `realm_access.roles`); OIDC_ROLE_MAP maps a value to a Gatehouse
role. OIDC_TEAM_CLAIM / OIDC_TEAM_MAP do the same for groups -> teams. Only the roles and teams
named in the maps are managed by the provider: at each sign-in they are set to what the claims
say (so one removed at the provider is removed here), and any others granted in Gatehouse stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Access:
    roles: frozenset[str]
    teams: frozenset[str]


def claim_values(claims: Mapping[str, Any], path: str) -> list[str]:
    """The values of a (possibly nested, dotted) claim as strings; missing -> []."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return []
        value = value[part]
    if isinstance(value, str):
        return value.split() if " " in value else [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def _mapped(values: list[str], table: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for value in values:
        target = table.get(value)
        if isinstance(target, str):
            out.add(target)
        elif isinstance(target, list):
            out.update(target)
    return out


def _targets(table: Mapping[str, Any]) -> set[str]:
    return _mapped(list(table), table)


def access_from_claims(
    claims: Mapping[str, Any], *, role_claim: str, role_map: Mapping[str, Any],
    team_claim: str, team_map: Mapping[str, Any],
) -> Access:
    return Access(
        roles=frozenset(_mapped(claim_values(claims, role_claim), role_map)),
        teams=frozenset(_mapped(claim_values(claims, team_claim), team_map)),
    )


def merge(current: set[str] | frozenset[str], granted: frozenset[str], managed: set[str]) -> set[str]:
    """What the user holds after sign-in: everything not managed by the provider, plus what the
    provider grants now."""
    return (set(current) - managed) | set(granted)


def managed_roles(role_map: Mapping[str, Any]) -> set[str]:
    return _targets(role_map)


def managed_teams(team_map: Mapping[str, Any]) -> set[str]:
    return _targets(team_map)
