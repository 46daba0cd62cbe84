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
