"""Oversight's records in the admin: viewable by admins and auditors, read-only (every record
changes only through its service, with its audit event)."""

from django.contrib import admin

from governance.admin_base import AppendOnlyAdmin
from oversight.models import Document, DocumentRevision, Finding, ReviewOverdue, RiskAssessment


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
