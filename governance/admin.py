from django.contrib import admin

from governance.admin_base import AppendOnlyAdmin, GatehouseAdmin
from governance.models import ApiToken, AuditEvent, ExternalIdentity, RoleGrant, Team, User


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


# --- the rules: policies and templates -------------------------------------------------------------------
# Policies are edited here, through the service, as a new version. Templates change only by
# migration (a new version), so the admin shows them read-only.

from django import forms  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402

from common.errors import DomainError  # noqa: E402
from governance.models import DocumentTemplate, TierPolicy  # noqa: E402


class ReadOnlyAdmin(AppendOnlyAdmin):
    """Viewable by admins and auditors; changed only through services (or migrations)."""


class TierPolicyForm(forms.ModelForm):
    """The rules are checked by TierPolicy.clean(), which the form runs."""

    class Meta:
        model = TierPolicy
        fields = ["tier", "rules", "notes"]


@admin.register(TierPolicy)
class TierPolicyAdmin(GatehouseAdmin):
    """Saving a policy (new or edited) publishes a NEW version; old versions never change."""

    form = TierPolicyForm
    list_display = ("tier", "version", "is_active", "created_by", "created_at", "notes")
    list_select_related = ("created_by",)
    list_filter = ("tier", "is_active")
    readonly_fields = ("version", "is_active", "created_by", "created_at")

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changeform_initial_data(self, request):
        from governance.policy import default_rules

        initial = super().get_changeform_initial_data(request)
        initial.setdefault("rules", default_rules(int(initial.get("tier") or 3)))
        return initial

    def save_model(self, request, obj, form, change):
        from governance.services import tier_policy_publish

        try:
            published = tier_policy_publish(
                actor=request.user, tier=form.cleaned_data["tier"],
                rules=form.cleaned_data["rules"], notes=form.cleaned_data.get("notes", ""),
            )
        except DomainError as exc:
            raise ValidationError(exc.detail) from exc
        obj.pk = published.pk
        obj.version = published.version
        obj.is_active = True
        obj._state.adding = False

    def message_user(self, request, message, *args, **kwargs):
        super().message_user(request, message + " (published as a new policy version)", *args, **kwargs)


@admin.register(DocumentTemplate)
class DocumentTemplateAdmin(ReadOnlyAdmin):
    list_display = ("slug", "version", "title", "is_active")


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(ReadOnlyAdmin):
    """Made at first sign-in or by `manage.py oidc_link` (audited), so read-only here."""

    list_display = ("subject", "issuer", "user", "created_at", "last_seen_at")
    list_select_related = ("user",)
    search_fields = ("subject", "user__username")
