"""Portal pages of governance (namespace `governance`): the audit log and its verification."""

from django.urls import path

from governance import views

urlpatterns = [
    path("audit/", views.audit_log, name="audit-log"),
    path("audit/verify/", views.audit_verify, name="audit-verify"),
    path("audit/<int:seq>/", views.audit_event, name="audit-event"),
]
