from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance import audit

        audit.register_actions(
            "approvals.promotion.requested",
            "approvals.promotion.decided",
            "approvals.promotion.approved",
            "approvals.promotion.executed",
            "approvals.promotion.rejected",
            "approvals.promotion.withdrawn",
            "approvals.promotion.expired",
            "approvals.promotion.revoked",
            "approvals.condition.met",
            "approvals.condition.breached",
            "approvals.webhook.created",
            "approvals.webhook.updated",
            "approvals.exception.requested",
            "approvals.exception.decided",
            "approvals.exception.approved",
            "approvals.exception.rejected",
            "approvals.exception.withdrawn",
            "approvals.exception.expired",
            "approvals.exception.expiry_notified",
        )
        # Webhooks announce audit events to outside systems (the audit log is what they watch).
        from approvals import webhooks

        audit.subscribe(webhooks.on_audit_event)
        from django.db.models.signals import post_delete, post_save

        from approvals.models import WebhookEndpoint

        post_save.connect(webhooks.forget_endpoints, sender=WebhookEndpoint)
        post_delete.connect(webhooks.forget_endpoints, sender=WebhookEndpoint)
        from common import events
        from governance.events import EVIDENCE_CHANGED

        events.on(EVIDENCE_CHANGED, _recheck_in_a_worker)
        from approvals.gates import policy_evidence_labels
        from governance.policy import register_evidence

        register_evidence(policy_evidence_labels())
        from approvals.compliance.judges import SOURCES
        from governance.crosswalk import register_sources

        register_sources(SOURCES)
        # The compliance blocks on oversight's inventory and documentation pack, and on the
        # version page, are registered through their hooks (a worker renders packs too).
        from approvals import views_compliance  # noqa: F401
        from approvals.notifications import in_app_channel
        from governance.notifications import add_channel

        add_channel(in_app_channel)
        # The documentation pack (built in oversight) records the approval decisions.
        from approvals.pack import decisions_pack_section, exceptions_pack_section
        from oversight.export import PACK_SECTIONS, PackSection

        PACK_SECTIONS.append(
            PackSection(40, "approvals/_pack_decisions.html", decisions_pack_section)
        )
        PACK_SECTIONS.append(
            PackSection(45, "approvals/_pack_exceptions.html", exceptions_pack_section)
        )


def _recheck_in_a_worker(model_name: str) -> None:
    """Evidence about a model changed (after commit, once per model per transaction): its live
    requests re-judge it in a worker, revoking approvals given on other evidence."""
    from approvals.tasks import recheck_promotions

    recheck_promotions.delay(model_name)
