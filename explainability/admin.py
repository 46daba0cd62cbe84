"""Jobs in the admin: read-only (jobs change only through their services and workers)."""

from django.contrib import admin

from explainability.models import Job
from governance.admin_base import AppendOnlyAdmin


@admin.register(Job)
class JobAdmin(AppendOnlyAdmin):
    list_display = ("id", "kind", "status", "model_version", "dataset", "attempts", "worker",
                    "queued_at", "finished_at")
    list_filter = ("kind", "status")
    search_fields = ("model_version__model__name", "error_message")
    list_select_related = ("model_version__model", "dataset__dataset")
