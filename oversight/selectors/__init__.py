"""Oversight reads, one module per entity; import from `oversight.selectors` (everything is
re-exported here). Registry rows are imported (oversight sits above the registry); tier policies
and templates are read through `governance.selectors`."""

from oversight.selectors import challenge
from oversight.selectors.documents import (
    coverage_matrix,
    document_completeness,
    document_get,
    document_get_for_user,
    document_required_sections,
    document_revisions,
    documents_for_version,
    documents_for_versions,
    revision_diff,
    revisions_by_id,
    vendor_validation_reports,
)
from oversight.selectors.findings import (
    finding_get_for_user,
    finding_list_for_user,
    finding_thread,
    findings_for_version,
    open_blocking_findings,
    open_blocking_findings_for_models,
)
from oversight.selectors.gates import governance_gate_items, is_prohibited
from oversight.selectors.incidents import (
    incident_clocks,
    incident_get_for_user,
    incident_list_for_user,
    incident_register_state,
    incident_register_states,
    incidents_for_model,
    open_serious,
    overdue_incidents,
)
from oversight.selectors.lapses import (
    lapse_sentence,
    lapsed_in_production,
    lapses_open,
    sign_off_at_stake,
)
from oversight.selectors.monitoring import (
    crossings_for,
    metric_value,
    monitoring_register_state,
    monitoring_register_states,
    plan_for,
    responsible_candidates,
)
from oversight.selectors.restrictions import (
    mark_imposed_by_second_line,
    use_restrictions_for,
    use_restrictions_for_models,
    use_restrictions_register,
    use_restrictions_registers,
)
from oversight.selectors.reviews import overdue_reviews
from oversight.selectors.risk import (
    risk_assessment_current,
    risk_assessment_get,
    risk_assessment_list,
    risk_assessments_current,
)

__all__ = [
    "challenge",
    "coverage_matrix", "document_completeness", "document_get", "document_get_for_user",
    "document_required_sections", "document_revisions", "documents_for_version",
    "documents_for_versions", "revision_diff", "revisions_by_id", "vendor_validation_reports",
    "finding_get_for_user", "finding_list_for_user", "finding_thread", "findings_for_version",
    "open_blocking_findings", "open_blocking_findings_for_models", "governance_gate_items",
    "is_prohibited", "overdue_reviews", "risk_assessment_current", "risk_assessment_get",
    "risk_assessment_list", "risk_assessments_current", "use_restrictions_for",
    "mark_imposed_by_second_line",
    "use_restrictions_for_models", "use_restrictions_register", "use_restrictions_registers",
    "incident_register_states", "monitoring_register_states",
    "incident_clocks", "incident_get_for_user", "incident_list_for_user",
    "incident_register_state", "incidents_for_model", "open_serious", "overdue_incidents",
    "crossings_for", "metric_value", "monitoring_register_state", "plan_for",
    "responsible_candidates",
    "lapse_sentence", "lapsed_in_production", "lapses_open", "sign_off_at_stake",
]
