"""Oversight tables: the records kept about registry models (risk assessments, documents and
their revisions, findings, overdue reviews). Import models from `oversight.models`.

They moved here from `governance` and kept their tables (`governance_*`): see migration 0001."""

from oversight.models.documents import (
    Document,
    DocumentAttachment,
    DocumentRevision,
    DocumentSection,
)
from oversight.models.findings import Finding, FindingResponse
from oversight.models.restrictions import UseRestriction
from oversight.models.reviews import ReviewOverdue
from oversight.models.risk import RiskAssessment

__all__ = [
    "Document", "DocumentAttachment", "DocumentRevision", "DocumentSection",
    "Finding", "FindingResponse", "ReviewOverdue", "RiskAssessment", "UseRestriction",
]
