from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config.celery import _ensure_embedded_broker_dirs

        _ensure_embedded_broker_dirs()
        from common import checks  # noqa: F401 - registers the start-up checks
