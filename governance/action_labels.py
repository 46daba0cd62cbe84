"""What each audit action is called on a page: one label table for every action any app declares.

The recorded names (`approvals.promotion.requested`) are a vocabulary machines filter by; people
read these labels ("Promotion requested"). An action without a label here still shows a label
made from its name, but tests/governance/test_action_labels.py fails until it has one.
"""

from __future__ import annotations

ACTION_LABELS: dict[str, str] = {
    # approvals
    "approvals.condition.breached": "Approval condition breached",
    "approvals.exception.approved": "Policy exception approved",
    "approvals.exception.decided": "Policy exception decision recorded",
    "approvals.exception.expired": "Policy exception expired",
    "approvals.exception.expiry_notified": "Policy exception expiry notice sent",
    "approvals.exception.rejected": "Policy exception rejected",
    "approvals.exception.requested": "Policy exception requested",
    "approvals.exception.withdrawn": "Policy exception withdrawn",
    "approvals.condition.met": "Approval condition met",
    "approvals.promotion.approved": "Promotion approved",
    "approvals.promotion.decided": "Promotion decision recorded",
    "approvals.promotion.executed": "Promotion executed (stage changed)",
    "approvals.promotion.expired": "Promotion request expired",
    "approvals.promotion.rejected": "Promotion rejected",
    "approvals.promotion.requested": "Promotion requested",
    "approvals.promotion.revoked": "Promotion approval revoked",
    "approvals.promotion.withdrawn": "Promotion request withdrawn",
    "approvals.webhook.created": "Webhook created",
    "approvals.webhook.updated": "Webhook updated",
    # explainability
    "explainability.drift_profile.replaced": "Drift reference profile replaced",
    "explainability.drift_profile.stored": "Drift reference profile stored",
    "explainability.job.cancelled": "Analysis job cancelled",
    "explainability.job.failed": "Analysis job failed",
    "explainability.job.queued": "Analysis job queued",
    "explainability.job.requeued": "Analysis job requeued",
    "explainability.job.retried": "Analysis job retried",
    "explainability.job.started": "Analysis job started",
    "explainability.job.succeeded": "Analysis job succeeded",
    # governance (and the records oversight keeps under their recorded governance. names)
    "governance.audit.position_aborted": "Audit position left empty (rolled back)",
    "governance.document.attachment_added": "Document attachment added",
    "governance.document.created": "Document started",
    "governance.document.fields_updated": "Document fields updated",
    "governance.document.section_saved": "Document section saved",
    "governance.document.signed_off": "Document signed off",
    "governance.finding.opened": "Finding opened",
    "governance.finding.responded": "Finding answered",
    "governance.finding.transitioned": "Finding status changed",
    "governance.identity.linked": "Single sign-on identity linked",
    "governance.login.locked_out": "Sign-in locked out",
    "governance.login.unlocked": "Sign-in unlocked",
    "governance.policy.published": "Tier policy published",
    "governance.review.overdue": "Periodic review overdue",
    "governance.review.scheduled": "Periodic review scheduled",
    "governance.risk_assessment.created": "Risk assessment recorded",
    "governance.risk_assessment.overridden": "Risk tier overridden",
    "governance.team.created": "Team created",
    "governance.token.created": "API token created",
    "governance.token.revoked": "API token revoked",
    "governance.user.created": "User created",
    "governance.user.updated": "User updated",
    # mlflow_api
    "mlflow_api.alias.deleted": "MLflow alias deleted",
    "mlflow_api.alias.set": "MLflow alias set",
    "mlflow_api.model.deleted": "MLflow model deleted",
    "mlflow_api.model.renamed": "MLflow model renamed",
    "mlflow_api.model.tagged": "MLflow model tagged",
    "mlflow_api.model.untagged": "MLflow model tag removed",
    "mlflow_api.version.tagged": "MLflow version tagged",
    "mlflow_api.version.untagged": "MLflow version tag removed",
    # oversight
    "oversight.use_restriction.recorded": "Use restriction recorded",
    "oversight.use_restriction.withdrawn": "Use restriction withdrawn",
    "oversight.incident.reported": "Incident reported",
    "oversight.incident.transitioned": "Incident status changed",
    "oversight.incident.reclassified": "Incident reclassified",
    "oversight.monitoring.crossing_ended": "Monitoring threshold back within limits",
    "oversight.monitoring.threshold_crossed": "Monitoring threshold crossed",
    "oversight.monitoring_plan.saved": "Monitoring plan saved",
    # openlineage_api
    "openlineage_api.runevent.received": "OpenLineage run event received",
    # registry
    "registry.dataset.registered": "Dataset registered",
    "registry.dataset.updated": "Dataset updated",
    "registry.datasetversion.registered": "Dataset version registered",
    "registry.lineage.appended": "Lineage added",
    "registry.model.deleted": "Model deleted",
    "registry.model.registered": "Model registered",
    "registry.model.renamed": "Model renamed",
    "registry.model.updated": "Model updated",
    "registry.version.registered": "Model version registered",
    "registry.version.stage_changed": "Model version stage changed",
    "registry.version.updated": "Model version updated",
}


def action_label(action: str) -> str:
    """The action's label; for one nobody labelled, "<entity> <verb>" from its name."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    parts = str(action).split(".")
    if len(parts) != 3:
        return str(action)
    entity, verb = parts[1].replace("_", " "), parts[2].replace("_", " ")
    return f"{entity} {verb}".capitalize()
