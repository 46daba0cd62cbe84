from django.apps import AppConfig


class ExplainabilityConfig(AppConfig):
    name = "explainability"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance import audit

        audit.register_actions(
            "explainability.job.queued",
            "explainability.job.started",
            "explainability.job.requeued",
            "explainability.job.succeeded",
            "explainability.job.failed",
            "explainability.job.cancelled",
            "explainability.job.retried",
            "explainability.drift_profile.stored",
            "explainability.drift_profile.replaced",
        )
        # A version entering production makes its training data the scheduled drift checks'
        # reference: its profile is prepared in a worker, so the first check does not sort it.
        from common import events
        from registry.events import VERSION_IN_PRODUCTION

        events.on(VERSION_IN_PRODUCTION, _prepare_reference_in_a_worker)


def _prepare_reference_in_a_worker(version_id: str) -> None:
    from explainability.tasks import prepare_drift_reference_soon

    prepare_drift_reference_soon(int(version_id))
