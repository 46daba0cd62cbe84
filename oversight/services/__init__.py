"""Every oversight write. Each records its audit event in the transaction of the change.

Split by subject; import from `oversight.services` (everything is re-exported here).
"""

from oversight.services.documents import (
    STRUCTURED_FIELDS,
    document_attachment_add,
    document_create,
    document_fields_update,
    document_section_save,
    document_sign_off,
)
from oversight.services.findings import finding_open, finding_respond, finding_transition
from oversight.services.incidents import (
    MAX_AFFECTED_PERSONS,
    incident_reclassify,
    incident_report,
    incident_transition,
)
from oversight.services.monitoring import monitoring_evaluate, monitoring_plan_save
from oversight.services.restrictions import use_restriction_add, use_restriction_withdraw
from oversight.services.reviews import review_mark_overdue, review_schedule_after_approval
from oversight.services.risk import risk_assessment_create, risk_assessment_override

__all__ = [
    "STRUCTURED_FIELDS", "document_attachment_add", "document_create", "document_fields_update",
    "document_section_save", "document_sign_off", "finding_open", "finding_respond",
    "finding_transition", "review_mark_overdue", "review_schedule_after_approval",
    "risk_assessment_create", "risk_assessment_override", "use_restriction_add",
    "use_restriction_withdraw", "incident_reclassify", "incident_report", "incident_transition",
    "MAX_AFFECTED_PERSONS", "monitoring_evaluate",
    "monitoring_plan_save",
]
