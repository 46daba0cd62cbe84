from django.db import models


class Role(models.TextChoices):
    ENGINEER = "engineer", "ML engineer"
    MODEL_OWNER = "model_owner", "Model owner"
    VALIDATOR = "validator", "Validator (model risk officer)"
    COMPLIANCE = "compliance", "Compliance"
    BUSINESS_APPROVER = "business_approver", "Business approver"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Administrator"


#: Roles that may decide on promotion requests (auditors never decide).
DECIDING_ROLES = frozenset(
    {Role.VALIDATOR, Role.COMPLIANCE, Role.BUSINESS_APPROVER, Role.MODEL_OWNER}
)


class EuAiActClass(models.TextChoices):
    PROHIBITED = "prohibited", "Prohibited practice (EU AI Act Art. 5)"
    HIGH = "high", "High-risk (Art. 6, Annex I / Annex III)"
    LIMITED = "limited", "Limited risk: transparency duties (Art. 50)"
    MINIMAL = "minimal", "Minimal risk"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


#: Findings of these severities block promotion while unresolved.
BLOCKING_SEVERITIES = frozenset({Severity.HIGH, Severity.CRITICAL})


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    REMEDIATED = "remediated", "Remediated (awaiting validator)"
    ACCEPTED = "accepted", "Risk accepted with justification"
    CLOSED = "closed", "Closed"


#: Unresolved findings: the validator has not yet closed or accepted them.
UNRESOLVED_FINDING_STATUSES = frozenset({FindingStatus.OPEN, FindingStatus.REMEDIATED})

#: The one transition table of a finding's workflow.
FINDING_TRANSITIONS: dict[str, frozenset[str]] = {
    FindingStatus.OPEN: frozenset({FindingStatus.REMEDIATED, FindingStatus.ACCEPTED, FindingStatus.CLOSED}),
    FindingStatus.REMEDIATED: frozenset({FindingStatus.OPEN, FindingStatus.ACCEPTED, FindingStatus.CLOSED}),
    FindingStatus.ACCEPTED: frozenset({FindingStatus.OPEN, FindingStatus.CLOSED}),
    FindingStatus.CLOSED: frozenset({FindingStatus.OPEN}),
}

#: Stages a tier policy may set rules for.
POLICY_STAGES = ("staging", "production")
