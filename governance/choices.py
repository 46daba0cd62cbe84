from django.db import models


class Role(models.TextChoices):
    ENGINEER = "engineer", "ML engineer"
    MODEL_OWNER = "model_owner", "Model owner"
    VALIDATOR = "validator", "Validator (model risk officer)"
    COMPLIANCE = "compliance", "Compliance"
    BUSINESS_APPROVER = "business_approver", "Business approver"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Administrator"


def role_label(role: str | None) -> str:
    """A role as people name it ("Business approver"), the slug itself for an unknown one."""
    if not role:
        return ""
    return dict(Role.choices).get(role, str(role).replace("_", " ").capitalize())


#: Roles that may decide on promotion requests (auditors never decide).
DECIDING_ROLES = frozenset(
    {Role.VALIDATOR, Role.COMPLIANCE, Role.BUSINESS_APPROVER, Role.MODEL_OWNER}
)


class EuAiActClass(models.TextChoices):
    PROHIBITED = "prohibited", "Prohibited practice (EU AI Act Art. 5)"
    HIGH = "high", "High-risk (Art. 6, Annex I / Annex III)"
    LIMITED = "limited", "Limited risk: transparency duties (Art. 50)"
    MINIMAL = "minimal", "Minimal risk"


#: Stages a tier policy may set rules for.
POLICY_STAGES = ("staging", "production")
