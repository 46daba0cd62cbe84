"""Admin base: admins edit, auditors (staff, read-only) view everything and change nothing."""

from django.contrib import admin

from governance.permissions import is_admin, is_auditor_only


class GatehouseAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return is_admin(request.user) or is_auditor_only(request.user)

    def has_view_permission(self, request, obj=None):
        return is_admin(request.user) or is_auditor_only(request.user)

    def has_add_permission(self, request):
        return is_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_admin(request.user)


class AppendOnlyAdmin(GatehouseAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
