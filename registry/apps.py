from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance import audit

        audit.register_actions(
            "registry.model.registered",
            "registry.model.updated",
            "registry.model.renamed",
            "registry.model.deleted",
            "registry.version.registered",
            "registry.version.updated",
            "registry.version.stage_changed",
            "registry.dataset.registered",
            "registry.dataset.updated",
            "registry.datasetversion.registered",
            "registry.lineage.appended",
        )
