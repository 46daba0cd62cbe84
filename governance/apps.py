from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance import audit, throttle  # noqa: F401 - lock-out audit
        from governance.auditlog import checks as _audit_checks  # noqa: F401 - signing key
        from governance.oidc import checks  # noqa: F401 - registers the SSO settings check

        audit.register_actions(
            "governance.user.created",
            "governance.user.updated",
            "governance.token.created",
            "governance.token.revoked",
            "governance.identity.linked",
            "governance.login.locked_out",
            "governance.login.unlocked",
            "governance.team.created",
            "governance.policy.published",
        )
