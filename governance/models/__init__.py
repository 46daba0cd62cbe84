"""Governance tables: people and the audit trail (core), tier policies, risk assessments,
documentation, findings and periodic reviews. Import models from `governance.models`."""

from governance.models.auditlog import AuditCheckpoint, AuditTreeTile
from governance.models.core import ApiToken, AuditEvent, RoleGrant, Team, User
from governance.models.documents import (
    Document,
    DocumentAttachment,
    DocumentRevision,
    DocumentSection,
    DocumentTemplate,
)
from governance.models.findings import Finding, FindingResponse
from governance.models.identity import ExternalIdentity
from governance.models.policy import TierPolicy
from governance.models.reviews import ReviewOverdue
from governance.models.risk import RiskAssessment

__all__ = [
    "ApiToken", "AuditCheckpoint", "AuditEvent", "AuditTreeTile", "RoleGrant", "Team", "User",
    "Document", "DocumentAttachment", "DocumentRevision", "DocumentSection", "DocumentTemplate",
    "ExternalIdentity", "Finding", "FindingResponse", "TierPolicy", "ReviewOverdue", "RiskAssessment",
]
