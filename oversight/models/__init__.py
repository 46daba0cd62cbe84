"""Oversight tables: the records kept about registry models (risk assessments, documents and
their revisions, findings, overdue reviews, use restrictions, post-market monitoring plans,
incidents). Import models from `oversight.models`.

They moved here from `governance` and kept their tables (`governance_*`): see migration 0001."""

from oversight.models.documents import (
    Document,
    DocumentAttachment,
    DocumentRevision,
    DocumentSection,
    SignOffLapse,
)
from oversight.models.findings import Finding, FindingResponse
from oversight.models.incidents import Incident, IncidentClock
from oversight.models.monitoring import MonitoringCrossing, MonitoringPlan, MonitoringThreshold
from oversight.models.restrictions import UseRestriction
from oversight.models.reviews import ReviewOverdue
from oversight.models.risk import RiskAssessment

__all__ = [
    "Document", "DocumentAttachment", "DocumentRevision", "DocumentSection",
    "Finding", "FindingResponse", "Incident", "IncidentClock", "MonitoringCrossing",
    "MonitoringPlan", "MonitoringThreshold", "ReviewOverdue", "RiskAssessment", "UseRestriction",
    "SignOffLapse",
]
