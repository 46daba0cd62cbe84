"""Choices of oversight's records: finding severity and the finding workflow."""

from django.db import models


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


class RestrictionKind(models.TextChoices):
    """What a use restriction says about a model: a use it is approved for, a use it must never
    be put to, a population it may be applied to, a geography it may be used in."""

    ALLOWED_USE = "allowed_use", "Allowed use"
    PROHIBITED_USE = "prohibited_use", "Prohibited use"
    POPULATION = "population", "Population"
    GEOGRAPHY = "geography", "Geography"


class MonitoredMetric(models.TextChoices):
    """What a post-market monitoring plan may watch: a figure read from a job result."""

    DRIFT_MAX_PSI = "drift.max_psi", "Largest feature PSI (drift job)"
    DRIFT_DRIFTED_FEATURES = "drift.drifted_features", "Features in drift (drift job)"
    OUTCOME_ACCURACY = "outcome.accuracy", "Accuracy on recorded outcomes (outcome analysis)"
    OUTCOME_AUC = "outcome.auc", "AUC on recorded outcomes (outcome analysis)"
    FAIRNESS_FAILED_METRICS = "fairness.failed_metrics", "Fairness metrics outside thresholds"


class ThresholdDirection(models.TextChoices):
    """Which side of the threshold is a crossing: `above` alerts when the value exceeds it,
    `below` when the value falls under it."""

    ABOVE = "above", "Alert above the threshold"
    BELOW = "below", "Alert below the threshold"


class IncidentStatus(models.TextChoices):
    REPORTED = "reported", "Reported"
    INVESTIGATING = "investigating", "Investigating"
    REPORTED_TO_AUTHORITY = "reported_to_authority", "Reported to the authority"
    CLOSED = "closed", "Closed"


#: Incidents in these statuses are open (a serious one blocks its model's promotions).
OPEN_INCIDENT_STATUSES = frozenset(
    {IncidentStatus.REPORTED, IncidentStatus.INVESTIGATING, IncidentStatus.REPORTED_TO_AUTHORITY}
)

#: The one transition table of an incident (EU AI Act Art. 73: report, investigate, notify the
#: market surveillance authority, close). A serious incident closes only once reported.
INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentStatus.REPORTED: frozenset(
        {IncidentStatus.INVESTIGATING, IncidentStatus.REPORTED_TO_AUTHORITY}
    ),
    IncidentStatus.INVESTIGATING: frozenset(
        {IncidentStatus.REPORTED_TO_AUTHORITY, IncidentStatus.CLOSED}
    ),
    IncidentStatus.REPORTED_TO_AUTHORITY: frozenset(
        {IncidentStatus.INVESTIGATING, IncidentStatus.CLOSED}
    ),
    IncidentStatus.CLOSED: frozenset({IncidentStatus.INVESTIGATING}),
}
