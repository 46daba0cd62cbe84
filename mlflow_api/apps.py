from django.apps import AppConfig


class MlflowApiConfig(AppConfig):
    """MLflow's Model Registry REST protocol over Gatehouse's registry and approvals."""

    name = "mlflow_api"
    verbose_name = "MLflow-compatible registry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance import audit

        audit.register_actions(
            "mlflow_api.model.renamed",
            "mlflow_api.model.deleted",
            "mlflow_api.model.tagged",
            "mlflow_api.model.untagged",
            "mlflow_api.version.tagged",
            "mlflow_api.version.untagged",
            "mlflow_api.alias.set",
            "mlflow_api.alias.deleted",
        )
