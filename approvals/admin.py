from django.contrib import admin
from django.db import transaction

from approvals.models import (
    Decision,
    PolicyException,
    PromotionRequest,
    WebhookDelivery,
    WebhookEndpoint,
)
from governance import audit
from governance.admin_base import AppendOnlyAdmin, GatehouseAdmin


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(GatehouseAdmin):
    list_display = ("name", "url", "is_active", "created_at")

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit.record(
                action="approvals.webhook.updated" if change else "approvals.webhook.created",
                actor=request.user, target=obj,
                payload={"url": obj.url, "event_types": obj.event_types, "active": obj.is_active},
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AppendOnlyAdmin):
    list_display = ("id", "endpoint", "event_type", "status", "created_at", "delivered_at")
    list_filter = ("status", "event_type")
    readonly_fields = ("endpoint", "event_type", "payload", "status", "attempts", "created_at", "delivered_at")


class DecisionInline(admin.TabularInline):
    model = Decision
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PromotionRequest)
class PromotionRequestAdmin(AppendOnlyAdmin):
    """Promotions change only through the workflow (API/portal), never by admin edits."""

    list_display = ("id", "version", "target_stage", "state", "requested_by", "created_at")
    list_filter = ("state", "target_stage")
    inlines = [DecisionInline]


@admin.register(PolicyException)
class PolicyExceptionAdmin(AppendOnlyAdmin):
    """Read-only: an exception changes only through approvals.exceptions (audited)."""

    list_display = ("id", "version", "gate", "status", "expires_at", "requested_by", "approved_at")
    list_select_related = ("version__model", "requested_by")
    list_filter = ("status", "gate")
