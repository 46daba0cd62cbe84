from django.contrib import admin

from governance.admin_base import AppendOnlyAdmin
from openlineage_api.models import OpenLineageDataset, RunEvent


@admin.register(RunEvent)
class RunEventAdmin(AppendOnlyAdmin):
    list_display = ("received_at", "event_type", "job_namespace", "job_name", "run_id", "received_by")
    list_filter = ("event_type", "job_namespace")
    search_fields = ("job_name", "run_id")
    list_select_related = ("received_by",)


@admin.register(OpenLineageDataset)
class OpenLineageDatasetAdmin(AppendOnlyAdmin):
    list_display = ("namespace", "name", "dataset")
    search_fields = ("namespace", "name")
    list_select_related = ("dataset",)
