from django.contrib import admin

from governance.admin_base import AppendOnlyAdmin, GatehouseAdmin
from governance.models import ApiToken, AuditEvent, RoleGrant, Team, User


class RoleGrantInline(admin.TabularInline):
    model = RoleGrant
    extra = 0


@admin.register(User)
class UserAdmin(GatehouseAdmin):
    list_display = ("username", "email", "is_active")
    search_fields = ("username", "email")
    filter_horizontal = ("teams",)
    exclude = ("password", "user_permissions", "groups")
    inlines = [RoleGrantInline]


@admin.register(Team)
class TeamAdmin(GatehouseAdmin):
    list_display = ("name", "title")


@admin.register(ApiToken)
class ApiTokenAdmin(GatehouseAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash", "user", "created_at", "last_used_at")


@admin.register(AuditEvent)
class AuditEventAdmin(AppendOnlyAdmin):
    list_display = ("seq", "timestamp", "actor_name", "action", "object_repr")
    list_filter = ("action",)
    search_fields = ("object_repr", "actor_name", "model_name")
