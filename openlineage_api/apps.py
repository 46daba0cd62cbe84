from django.apps import AppConfig


class OpenLineageApiConfig(AppConfig):
    """OpenLineage run events from pipelines (Airflow, Spark, dbt, the Python client) turned
    into Gatehouse datasets and lineage edges. An adapter: nothing imports it."""

    name = "openlineage_api"
    verbose_name = "OpenLineage ingest"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance import audit

        audit.register_actions("openlineage_api.runevent.received")
