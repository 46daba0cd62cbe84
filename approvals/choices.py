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


class ExceptionStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved (waiving the gate)"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"


#: A policy exception still alive (one per version and gate).
LIVE_EXCEPTION_STATES = (ExceptionStatus.REQUESTED, ExceptionStatus.APPROVED)

#: The transition table of a policy exception.
EXCEPTION_TRANSITIONS: dict[str, set[str]] = {
    ExceptionStatus.REQUESTED: {ExceptionStatus.APPROVED, ExceptionStatus.REJECTED,
                                ExceptionStatus.WITHDRAWN, ExceptionStatus.EXPIRED},
    ExceptionStatus.APPROVED: {ExceptionStatus.WITHDRAWN, ExceptionStatus.EXPIRED},
    ExceptionStatus.REJECTED: set(),
    ExceptionStatus.WITHDRAWN: set(),
    ExceptionStatus.EXPIRED: set(),
}

#: An approved exception is "expiring" this many days before its expiry (its owner is told once).
EXCEPTION_NOTICE_DAYS = 7

#: The decisions on a policy exception (no "request changes": ask again instead).
EXCEPTION_DECISIONS = [(DecisionKind.APPROVE.value, "Approve"), (DecisionKind.REJECT.value, "Reject")]
