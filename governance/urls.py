"""Portal pages of governance (namespace `governance`)."""

from django.urls import path

from governance import views, views_documents, views_findings

D = "documents/<int:pk>/"

urlpatterns = [
    path("audit/", views.audit_log, name="audit-log"),
    path("audit/verify/", views.audit_verify, name="audit-verify"),
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
]
