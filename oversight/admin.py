"""Oversight's records in the admin: viewable by admins and auditors, read-only (every record
changes only through its service, with its audit event)."""

from django.contrib import admin

from governance.admin_base import AppendOnlyAdmin
from oversight.models import (
    Document,
    DocumentRevision,
    Finding,
    Incident,
    IncidentClock,
    MonitoringCrossing,
    MonitoringPlan,
    MonitoringThreshold,
    ReviewOverdue,
    RiskAssessment,
    UseRestriction,
)


class ReadOnlyAdmin(AppendOnlyAdmin):
    """Viewable by admins and auditors; changed only through services."""


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(ReadOnlyAdmin):
    list_display = ("model", "computed_tier", "override_tier", "eu_ai_act_class", "score",
                    "assessed_by", "created_at", "expires_at")
    list_select_related = ("model", "assessed_by")
    list_filter = ("computed_tier", "eu_ai_act_class")


class DocumentRevisionInline(admin.TabularInline):
    model = DocumentRevision
    extra = 0
    fields = ("number", "section_key", "author", "created_at", "note")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("version", "template_slug", "revision", "signed_off_by", "signed_off_revision")
    list_select_related = ("version__model", "signed_off_by")
    inlines = [DocumentRevisionInline]


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ("title", "model", "severity", "status", "owner", "due_date")
    list_select_related = ("model", "owner")
    list_filter = ("severity", "status")


@admin.register(ReviewOverdue)
class ReviewOverdueAdmin(ReadOnlyAdmin):
    list_display = ("model", "review_date", "detected_at")


class MonitoringThresholdInline(admin.TabularInline):
    model = MonitoringThreshold
    extra = 0
    fields = ("metric", "direction", "threshold", "severity", "last_job", "last_value", "retired_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MonitoringPlan)
class MonitoringPlanAdmin(ReadOnlyAdmin):
    list_display = ("model", "responsible", "cadence_days", "updated_at")
    list_select_related = ("model", "responsible")
    inlines = [MonitoringThresholdInline]


@admin.register(MonitoringCrossing)
class MonitoringCrossingAdmin(ReadOnlyAdmin):
    list_display = ("threshold", "job", "value", "finding", "opened_at", "ended_at")
    list_select_related = ("threshold", "job", "finding")


@admin.register(IncidentClock)
class IncidentClockAdmin(ReadOnlyAdmin):
    """The statutory clocks change by a reviewed data migration (so the change is in the code's
    history), not in the admin."""

    list_display = ("key", "label", "days", "legal_basis")


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ("title", "model", "serious", "seriousness", "status", "became_known_at",
                    "deadline_at", "authority_reported_at")
    list_select_related = ("model", "seriousness")
    list_filter = ("serious", "status", "seriousness")


@admin.register(UseRestriction)
class UseRestrictionAdmin(ReadOnlyAdmin):
    list_display = ("model", "kind", "text", "expires_on", "created_by", "withdrawn_at")
    list_select_related = ("model", "created_by")
    list_filter = ("kind",)
