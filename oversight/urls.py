"""Portal pages of oversight (namespace `oversight`). The paths are the ones these pages had
before the app existed (some under the registry's `/models/...`), so bookmarks keep working."""

from django.urls import path

from oversight import (
    views,
    views_documents,
    views_findings,
    views_incidents,
    views_inventory,
    views_models,
    views_restrictions,
)

D = "documents/<int:pk>/"
V = "models/<slug:name>/v<int:version>/"

urlpatterns = [
    path("models/", views_inventory.inventory, name="inventory"),
    path("findings/", views.finding_list, name="finding-list"),
    path("findings/<int:pk>/", views_findings.finding_detail, name="finding-detail"),
    path("findings/<int:pk>/respond/", views_findings.finding_respond, name="finding-respond"),
    path("findings/<int:pk>/transition/", views_findings.finding_transition,
         name="finding-transition"),
    path(D, views_documents.document_detail, name="document-detail"),
    path(D + "sections/<slug:key>/", views_documents.section_edit, name="document-section"),
    path(D + "preview/", views_documents.section_preview, name="document-preview"),
    path(D + "fields/", views_documents.fields_update, name="document-fields"),
    path(D + "attachments/", views_documents.attachment_add, name="document-attachments"),
    path(D + "sign-off/", views_documents.sign_off, name="document-sign-off"),
    path(D + "revisions/", views_documents.revision_list, name="document-revisions"),
    path(D + "revisions/<int:number>/", views_documents.revision_detail,
         name="document-revision"),
    path(V + "documents/", views_models.document_start, name="version-document-start"),
    path(V + "coverage/", views_models.version_coverage, name="version-coverage"),
    path("models/<slug:name>/risk/", views_models.risk_assessment, name="risk"),
    path("models/<slug:name>/risk/override/", views_models.risk_override, name="risk-override"),
    path("models/<slug:name>/findings/new/", views_models.finding_open, name="finding-open"),
    path("models/<slug:name>/use-restrictions/", views_restrictions.restriction_add,
         name="use-restriction-add"),
    path("models/<slug:name>/use-restrictions/<int:pk>/withdraw/",
         views_restrictions.restriction_withdraw, name="use-restriction-withdraw"),
    path("models/<slug:name>/monitoring/", views_incidents.monitoring_plan, name="monitoring-plan"),
    path("models/<slug:name>/incidents/new/", views_incidents.incident_report,
         name="incident-report"),
    path("incidents/", views_incidents.incident_list, name="incident-list"),
    path("incidents/<int:pk>/", views_incidents.incident_detail, name="incident-detail"),
    path("incidents/<int:pk>/transition/", views_incidents.incident_transition,
         name="incident-transition"),
    path("incidents/<int:pk>/reclassify/", views_incidents.incident_reclassify,
         name="incident-reclassify"),
]
