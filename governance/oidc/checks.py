"""Start-up checks of the single sign-on settings (`manage.py check`, and every server start)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from governance.choices import Role


@register()
def oidc_settings_check(app_configs, **kwargs):
    errors = []
    if not isinstance(settings.OIDC_ROLE_MAP, dict):
        errors.append(Error("OIDC_ROLE_MAP must be a JSON object {claim value: role}.",
                            id="governance.E101"))
    else:
        for value, role in settings.OIDC_ROLE_MAP.items():
            for r in role if isinstance(role, list) else [role]:
                if r not in Role.values:
                    errors.append(Error(
                        f"OIDC_ROLE_MAP maps {value!r} to {r!r}, which is not a role. "
                        f"Roles: {', '.join(Role.values)}.", id="governance.E102"))
    if not isinstance(settings.OIDC_TEAM_MAP, dict):
        errors.append(Error("OIDC_TEAM_MAP must be a JSON object {group: team}.",
                            id="governance.E103"))
    if settings.OIDC_ISSUER and not (settings.OIDC_RP_CLIENT_ID and settings.OIDC_RP_CLIENT_SECRET):
        errors.append(Error("OIDC_ISSUER is set but OIDC_CLIENT_ID or OIDC_CLIENT_SECRET is not.",
                            id="governance.E104"))
    return errors
