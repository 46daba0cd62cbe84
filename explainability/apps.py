from django.apps import AppConfig


class ExplainabilityConfig(AppConfig):
    name = "explainability"
    default_auto_field = "django.db.models.BigAutoField"
