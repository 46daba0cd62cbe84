"""Promotion requests, the decisions on them, conditions, notifications and webhooks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from approvals.choices import (
    LIVE_EXCEPTION_STATES,
    LIVE_STATES,
    ConditionStatus,
    DecisionKind,
    DeliveryStatus,
    ExceptionStatus,
    State,
    TargetStage,
)


class PromotionRequest(models.Model):
    """A request to move one model version to staging or production.

    The required roles, the gate report and the evidence are snapshotted from the tier's policy
    version when the request opens; approvals are bound to that evidence (fingerprint). One live
    request per version and target stage (conditional unique constraint).
    """

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="promotion_requests"
    )
    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.PROTECT, related_name="promotion_requests"
    )
    target_stage = models.CharField(max_length=20, choices=TargetStage.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="promotion_requests"
    )
    justification = models.TextField()
    policy = models.ForeignKey("governance.TierPolicy", on_delete=models.PROTECT, related_name="+")
    required_roles = models.JSONField(default=list)
    gate_report = models.JSONField(default=dict)
    evidence = models.JSONField(default=dict)
    evidence_fingerprint = models.CharField(max_length=64)
    state_reason = models.TextField(blank=True)
    deadline_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    execute_by = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "target_stage"],
                condition=Q(state__in=LIVE_STATES),
                name="promotion_one_live_per_version_stage",
            ),
            models.CheckConstraint(
                condition=Q(state__in=State.values), name="promotion_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.version} → {self.target_stage} ({self.state})"


class Decision(models.Model):
    """One approver's decision in one role. The database backs segregation of duties: one
    approval per role and one approving role per person on a request."""

    request = models.ForeignKey(PromotionRequest, on_delete=models.PROTECT, related_name="decisions")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32)
    decision = models.CharField(max_length=20, choices=DecisionKind.choices)
    comment = models.TextField(blank=True)
    evidence_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "role"],
                condition=Q(decision=DecisionKind.APPROVE),
                name="decision_one_approval_per_role",
            ),
            models.UniqueConstraint(
                fields=["request", "approver"],
                condition=Q(decision=DecisionKind.APPROVE),
                name="decision_one_approval_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.decision} as {self.role} on #{self.request_id}"


class ApprovalCondition(models.Model):
    """A condition attached to an approval, with a due date; unmet past it revokes the approval."""

    request = models.ForeignKey(PromotionRequest, on_delete=models.PROTECT, related_name="conditions")
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="conditions")
    text = models.TextField()
    due_date = models.DateField()
    status = models.CharField(
        max_length=20, choices=ConditionStatus.choices, default=ConditionStatus.OPEN
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["due_date", "id"]


class Notification(models.Model):
    """An in-app notification in a user's inbox."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=50)
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_inbox_idx")]


class WebhookEndpoint(models.Model):
    """An admin-registered URL that receives signed JSON for the event types it subscribes to."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, help_text="HMAC-SHA256 key for X-Gatehouse-Signature.")
    event_types = models.JSONField(default=list, help_text='Audit action names, or ["*"].')
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one endpoint; every attempt's outcome is kept."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.JSONField(default=list, help_text="[{at, status_code, error}]")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class ReleaseAttestation(models.Model):
    """A signed statement of why a version moved stage, written when its promotion executes.

    `envelope` is a DSSE envelope (signed with the audit log's Ed25519 key) around an in-toto
    Statement whose subject is the artifact's sha256 and whose predicate names the approvals and
    the evidence (approvals.attestations). `audit_position` is the position of the promotion's
    `executed` audit event: the checkpoint that sealed it is found from there once the sealer
    has run, so nothing here is ever updated. Append-only (model and database triggers).
    """

    request = models.ForeignKey(PromotionRequest, on_delete=models.PROTECT,
                                related_name="attestations")
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT,
                                related_name="attestations")
    target_stage = models.CharField(max_length=20, choices=TargetStage.choices)
    subject_sha256 = models.CharField(max_length=64)
    envelope = models.JSONField()
    payload_sha256 = models.CharField(max_length=64)
    audit_position = models.BigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"attestation #{self.pk} for {self.version} → {self.target_stage}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("Release attestations are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Release attestations are append-only and cannot be deleted.")


class PolicyException(models.Model):
    """A request to waive one gate (a key of `approvals.gates.EVIDENCE`) for one model version,
    with why, the compensating controls and an expiry no later than the tier policy allows
    (`exception_max_days`). Approved by every role the policy names
    (`exception_approver_roles`, snapshotted here), never by its requester (the service refuses;
    `ExceptionApproval`'s constraints back one approval per role and per person). While approved
    and before `expires_at`, the gate is met "waived by exception #N until D"; at `expires_at`
    it closes again, whatever the status says, and beat marks it expired.
    """

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="policy_exceptions"
    )
    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.PROTECT, related_name="policy_exceptions"
    )
    gate = models.CharField(max_length=64)
    reason = models.TextField()
    compensating_controls = models.TextField()
    expires_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=12, choices=ExceptionStatus.choices,
                              default=ExceptionStatus.REQUESTED, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="policy_exceptions"
    )
    policy = models.ForeignKey("governance.TierPolicy", on_delete=models.PROTECT, related_name="+")
    approver_roles = models.JSONField(default=list)
    status_reason = models.TextField(blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    expiry_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "gate"], condition=Q(status__in=LIVE_EXCEPTION_STATES),
                name="policy_exception_one_live_per_version_gate",
            ),
            models.CheckConstraint(condition=Q(status__in=ExceptionStatus.values),
                                   name="policy_exception_status_valid"),
            models.CheckConstraint(
                condition=~Q(reason="") & ~Q(compensating_controls=""),
                name="policy_exception_reason_and_controls_required",
            ),
            models.CheckConstraint(
                condition=~Q(status=ExceptionStatus.APPROVED) | Q(approved_at__isnull=False),
                name="policy_exception_approved_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"exception #{self.pk}: {self.gate} on {self.version} ({self.status})"


class ExceptionApproval(models.Model):
    """One approver's decision in one role on a policy exception. The database backs segregation
    of duties: one approval per role, one approving role per person."""

    exception = models.ForeignKey(PolicyException, on_delete=models.PROTECT, related_name="decisions")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32)
    decision = models.CharField(max_length=20, choices=DecisionKind.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["exception", "role"],
                                    condition=Q(decision=DecisionKind.APPROVE),
                                    name="exception_one_approval_per_role"),
            models.UniqueConstraint(fields=["exception", "approver"],
                                    condition=Q(decision=DecisionKind.APPROVE),
                                    name="exception_one_approval_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.decision} as {self.role} on exception #{self.exception_id}"
