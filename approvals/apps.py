from django.apps import AppConfig

#: Audit actions after which a model's live promotion requests re-judge their evidence.
EVIDENCE_ACTIONS_PREFIXES = (
    "explainability.job.", "governance.document", "governance.finding", "governance.risk",
)


class ApprovalsConfig(AppConfig):
    name = "approvals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance import audit

        audit.register_actions(
            "approvals.promotion.requested",
            "approvals.promotion.decided",
            "approvals.promotion.approved",
            "approvals.promotion.executed",
            "approvals.promotion.rejected",
            "approvals.promotion.withdrawn",
            "approvals.promotion.expired",
            "approvals.promotion.revoked",
            "approvals.condition.met",
            "approvals.condition.breached",
            "approvals.webhook.created",
            "approvals.webhook.updated",
        )
        audit.subscribe(_on_audit_event)
        from approvals.gates import policy_evidence_labels
        from governance.policy import register_evidence

        register_evidence(policy_evidence_labels())
        from approvals.notifications import in_app_channel
        from governance.notifications import add_channel

        add_channel(in_app_channel)


def _on_audit_event(event) -> None:
    from approvals import notifications, services

    notifications.on_audit_event(event)
    if event.model_name and event.action.startswith(EVIDENCE_ACTIONS_PREFIXES):
        # Evidence changed for this model: live requests re-judge it now (revoking approvals
        # given on other evidence). Runs after the change committed, in its own transactions.
        services.promotion_recheck_for_model(event.model_name)
