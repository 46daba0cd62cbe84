"""Governance tables: people, identities and the audit trail (core, identity, auditlog), tier
policies and documentation templates (the rules). Import models from `governance.models`; the
records kept about registry models (risk assessments, documents, findings, reviews) live in
`oversight.models`."""

from governance.models.auditlog import AuditCheckpoint, AuditTreeTile
from governance.models.core import ApiToken, AuditEvent, RoleGrant, Team, User
from governance.models.documents import DocumentTemplate
from governance.models.identity import ExternalIdentity
from governance.models.policy import TierPolicy

__all__ = [
    "ApiToken", "AuditCheckpoint", "AuditEvent", "AuditTreeTile", "RoleGrant", "Team", "User",
    "DocumentTemplate", "ExternalIdentity", "TierPolicy",
]
