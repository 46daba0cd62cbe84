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
