from django.db import models


class State(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    EXECUTED = "executed", "Executed"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


#: States in which a request is still alive (one per version and target stage).
LIVE_STATES = (State.OPEN, State.APPROVED)

#: The transition table: the only moves a request can make.
TRANSITIONS: dict[str, set[str]] = {
    State.OPEN: {State.APPROVED, State.EXECUTED, State.REJECTED, State.WITHDRAWN, State.EXPIRED,
                 State.REVOKED},
    State.APPROVED: {State.EXECUTED, State.REJECTED, State.WITHDRAWN, State.EXPIRED, State.REVOKED},
    State.EXECUTED: {State.REVOKED},
    State.REJECTED: set(),
    State.WITHDRAWN: set(),
    State.EXPIRED: set(),
    State.REVOKED: set(),
}


class DecisionKind(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    REQUEST_CHANGES = "request_changes", "Request changes"


class TargetStage(models.TextChoices):
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class ConditionStatus(models.TextChoices):
    OPEN = "open", "Open"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
