from django.apps import AppConfig


class OversightConfig(AppConfig):
    name = "oversight"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance import audit

        # The names kept their `governance.` prefix when the code moved: they are a recorded
        # vocabulary (events already in the chain use them, and readers filter by them).
        audit.register_actions(
            "governance.risk_assessment.created",
            "governance.risk_assessment.overridden",
            "governance.document.created",
            "governance.document.section_saved",
            "governance.document.fields_updated",
            "governance.document.attachment_added",
            "governance.document.signed_off",
            "governance.finding.opened",
            "governance.finding.responded",
            "governance.finding.transitioned",
            "governance.review.scheduled",
            "governance.review.overdue",
            "oversight.use_restriction.recorded",
            "oversight.use_restriction.withdrawn",
            "oversight.monitoring_plan.saved",
            "oversight.monitoring.threshold_crossed",
            "oversight.monitoring.crossing_ended",
            "oversight.incident.reported",
            "oversight.incident.transitioned",
            "oversight.incident.reclassified",
        )
        # New job results (and every other evidence change) are judged against the model's
        # post-market monitoring plan in a worker, after they commit. explainability sits below
        # oversight, so oversight listens to the declared event instead of being called.
        from common import events
        from governance.events import EVIDENCE_CHANGED

        events.on(EVIDENCE_CHANGED, _monitor_in_a_worker)


def _monitor_in_a_worker(model_name: str) -> None:
    from oversight.tasks import evaluate_monitoring

    evaluate_monitoring.delay(model_name)
