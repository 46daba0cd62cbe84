"""Every governance write: people, teams, tokens and tier policies. Each records its audit event
in the transaction of the change. The records about registry models (risk, documents, findings,
reviews) are written by `oversight.services`.

Split by subject; import from `governance.services` (everything is re-exported here).
"""

from governance.services.identity import external_identity_link, oidc_user_sign_in
from governance.services.logins import login_unlock
from governance.services.people import (
    team_get_or_create,
    token_create,
    user_create,
    user_grant_roles,
    user_set_access,
)
from governance.services.policies import tier_policy_publish

__all__ = [
    "external_identity_link", "oidc_user_sign_in", "login_unlock", "user_set_access",
    "team_get_or_create", "token_create", "user_create", "user_grant_roles", "tier_policy_publish",
]
