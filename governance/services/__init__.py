"""Every governance write. Each records its audit event in the transaction of the change.

Split by subject; import from `governance.services` (everything is re-exported here).
"""

from governance.services.documents import (
    STRUCTURED_FIELDS,
    document_attachment_add,
    document_create,
    document_fields_update,
    document_section_save,
    document_sign_off,
)
from governance.services.findings import finding_open, finding_respond, finding_transition
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
from governance.services.reviews import review_mark_overdue, review_schedule_after_approval
from governance.services.risk import risk_assessment_create, risk_assessment_override

__all__ = [
    "STRUCTURED_FIELDS", "document_attachment_add", "document_create", "document_fields_update",
    "document_section_save", "document_sign_off", "external_identity_link", "oidc_user_sign_in", "login_unlock",
    "user_set_access", "finding_open", "finding_respond",
    "finding_transition", "team_get_or_create", "token_create", "user_create", "user_grant_roles",
    "tier_policy_publish", "review_mark_overdue", "review_schedule_after_approval",
    "risk_assessment_create", "risk_assessment_override",
]
