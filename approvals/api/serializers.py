from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from approvals.choices import EXCEPTION_DECISIONS, DecisionKind, TargetStage
from approvals.models import (
    ApprovalCondition,
    Decision,
    ExceptionApproval,
    Notification,
    PolicyException,
    PromotionRequest,
)
from common.api import InputSerializer
from oversight import selectors as ov_selectors


class PromotionCreateInput(InputSerializer):
    model = serializers.SlugField()
    version = serializers.IntegerField(min_value=1)
    target_stage = serializers.ChoiceField(choices=TargetStage.choices)
    justification = serializers.CharField()


class ConditionInput(InputSerializer):
    text = serializers.CharField()
    due_date = serializers.DateField()


class DecisionInput(InputSerializer):
    decision = serializers.ChoiceField(choices=DecisionKind.choices)
    role = serializers.CharField()
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    conditions = ConditionInput(many=True, required=False)


class ReasonInput(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RollbackInput(InputSerializer):
    reason = serializers.CharField()


class ConditionResolveInput(InputSerializer):
    note = serializers.CharField()


class DecisionOutput(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username")

    class Meta:
        model = Decision
        fields = ["id", "approver", "role", "decision", "comment", "evidence_fingerprint", "created_at"]


class ConditionOutput(serializers.ModelSerializer):
    class Meta:
        model = ApprovalCondition
        fields = ["id", "text", "due_date", "status", "resolved_at", "resolution_note"]


class RevisionRefOutput(serializers.Serializer):
    document_id = serializers.IntegerField()
    template = serializers.CharField()
    title = serializers.CharField()
    number = serializers.IntegerField()
    label = serializers.CharField()


def revisions_context(requests) -> dict:
    """The serializer context for many requests: their evidence's revisions, read at once."""
    ids = [i for r in requests for i in (r.evidence or {}).get("document_revisions") or []]
    return {"revisions": ov_selectors.revisions_by_id(ids)}


class PromotionOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version")
    requested_by = serializers.CharField(source="requested_by.username")
    policy = serializers.SerializerMethodField()
    decisions = DecisionOutput(many=True, read_only=True)
    conditions = ConditionOutput(many=True, read_only=True)
    approvals_missing = serializers.SerializerMethodField()
    document_revisions = serializers.SerializerMethodField(
        help_text="The document revisions the evidence names, by the document's own revision "
                  "number (evidence.document_revisions holds their ids)."
    )

    class Meta:
        model = PromotionRequest
        fields = [
            "id", "model", "version", "target_stage", "state", "state_reason", "requested_by",
            "justification", "policy", "required_roles", "approvals_missing", "gate_report",
            "evidence", "document_revisions", "evidence_fingerprint", "decisions", "conditions", "deadline_at",
            "approved_at", "execute_by", "executed_at", "closed_at", "created_at",
        ]

    def get_policy(self, obj) -> dict:
        return {"id": obj.policy_id, "tier": obj.policy.tier, "version": obj.policy.version}

    @extend_schema_field(RevisionRefOutput(many=True))
    def get_document_revisions(self, obj) -> list[dict]:
        ids = (obj.evidence or {}).get("document_revisions") or []
        known = self.context.get("revisions")
        if known is None:  # one request: read its revisions (a list passes them in, one query)
            known = ov_selectors.revisions_by_id(ids)
        return [{k: v for k, v in known[i].items() if k != "id"} for i in ids if i in known]

    def get_approvals_missing(self, obj) -> list[str]:
        approved = {d.role for d in obj.decisions.all() if d.decision == DecisionKind.APPROVE}
        return [r for r in obj.required_roles if r not in approved]


class NotificationOutput(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "subject", "body", "link", "created_at", "read_at"]


class AttestationAuditOutput(serializers.Serializer):
    event_position = serializers.IntegerField()
    checkpoint = serializers.IntegerField(allow_null=True,
                                          help_text="Number of the checkpoint that sealed it.")
    sealed = serializers.BooleanField()
    proof_url = serializers.CharField()


class AttestationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    promotion_request = serializers.IntegerField()
    target_stage = serializers.CharField()
    subject_sha256 = serializers.CharField()
    created_at = serializers.CharField()
    envelope = serializers.DictField(help_text="DSSE envelope: payloadType, payload, signatures.")
    statement = serializers.DictField(help_text="The envelope's in-toto Statement, decoded.")
    audit = AttestationAuditOutput()


class ExceptionCreateInput(InputSerializer):
    model = serializers.SlugField()
    version = serializers.IntegerField(min_value=1)
    gate = serializers.CharField(help_text="The gate to waive: a key of the evidence registry "
                                           "(shap, fairness, documentation, ...).")
    reason = serializers.CharField(allow_blank=True)
    compensating_controls = serializers.CharField(allow_blank=True)
    expires_at = serializers.DateTimeField(
        help_text="When the waiver ends; at most the tier policy's exception_max_days ahead.")


class ExceptionDecisionInput(InputSerializer):
    decision = serializers.ChoiceField(choices=EXCEPTION_DECISIONS)
    role = serializers.CharField()
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ExceptionApprovalOutput(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username")

    class Meta:
        model = ExceptionApproval
        fields = ["id", "approver", "role", "decision", "comment", "created_at"]


class ExceptionOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version")
    gate_label = serializers.SerializerMethodField()
    requested_by = serializers.CharField(source="requested_by.username")
    policy = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    decisions = ExceptionApprovalOutput(many=True, read_only=True)

    class Meta:
        model = PolicyException
        fields = ["id", "model", "version", "gate", "gate_label", "reason",
                  "compensating_controls", "expires_at", "status", "state", "status_reason",
                  "requested_by", "policy", "approver_roles", "decisions", "approved_at",
                  "closed_at", "expiry_notified_at", "created_at"]

    def get_gate_label(self, obj) -> str:
        from approvals.gates import label

        return label(obj.gate)

    def get_policy(self, obj) -> str:
        return f"tier {obj.policy.tier} v{obj.policy.version}"

    def get_state(self, obj) -> str:
        """active | expiring | expired | requested | rejected | withdrawn, judged now."""
        from approvals.selectors import exception_display_state

        return exception_display_state(obj, now=self.context.get("now") or timezone.now())


# --- compliance against the regulatory crosswalk (output shapes, for the schema) ---------------


class ComplianceLinkOutput(serializers.Serializer):
    label = serializers.CharField()
    url = serializers.CharField(help_text="The portal page that holds the evidence.")
    sha256 = serializers.CharField(allow_null=True, help_text="Hash of the evidence, if it has one.")


class ComplianceEvidenceOutput(serializers.Serializer):
    source = serializers.CharField(help_text="The crosswalk's evidence source (kind:value).")
    met = serializers.BooleanField()
    detail = serializers.CharField()
    todo = serializers.CharField(help_text="What to do when not met (empty when met).")
    links = ComplianceLinkOutput(many=True)


class ComplianceObligationOutput(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=["met", "missing", "not_applicable"])
    reason = serializers.CharField(help_text="Why not applicable (empty otherwise).")
    todo = serializers.ListField(child=serializers.CharField(), help_text="What to do, if missing.")
    evidence = ComplianceEvidenceOutput(many=True)


class ComplianceCountsOutput(serializers.Serializer):
    met = serializers.IntegerField()
    missing = serializers.IntegerField()
    not_applicable = serializers.IntegerField()


class ComplianceFrameworkOutput(serializers.Serializer):
    framework = serializers.CharField()
    short = serializers.CharField(help_text="The framework's short name.")
    title = serializers.CharField()
    applicable = serializers.BooleanField()
    applicability = serializers.CharField()
    counts = ComplianceCountsOutput()
    all_met = serializers.BooleanField()
    obligations = ComplianceObligationOutput(
        many=True, required=False, help_text="Only when one framework is asked for.")


class ComplianceOutput(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    ref = serializers.CharField()
    stage = serializers.CharField()
    eu_ai_act_class = serializers.CharField(allow_null=True)
    risk_tier = serializers.IntegerField(allow_null=True)
    crosswalk_version = serializers.IntegerField()
    evaluated_at = serializers.DateTimeField()
    frameworks = ComplianceFrameworkOutput(many=True)
