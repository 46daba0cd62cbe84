"""DRF permission classes built on governance.permissions."""

from rest_framework import permissions

from governance.permissions import is_auditor_only


class ReadOnlyForAuditors(permissions.BasePermission):
    """Auditors read everything and write nothing: any unsafe method is a 403 with the rule."""

    message = "Auditors have read-only access: they can read everything and change nothing."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return not (request.user.is_authenticated and is_auditor_only(request.user))

