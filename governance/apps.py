from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance import audit

        audit.register_actions(
            "governance.user.created",
            "governance.user.updated",
            "governance.token.created",
            "governance.token.revoked",
            "governance.team.created",
        )
