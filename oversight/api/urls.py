from django.urls import path

from oversight.api import views_documents as docs
from oversight.api import views_findings as findings
from oversight.api import views_monitoring as monitoring
from oversight.api import views_restrictions as restrictions
from oversight.api import views_risk as risk

V = "models/<slug:name>/versions/<int:version>/"

urlpatterns = [
    path("risk-questionnaire/", risk.QuestionnaireView.as_view(), name="risk-questionnaire"),
    path("models/<slug:name>/risk-assessments/", risk.RiskAssessmentListView.as_view(),
         name="riskassessment-list"),
    path("models/<slug:name>/risk-assessments/<int:pk>/", risk.RiskAssessmentDetailView.as_view(),
         name="riskassessment-detail"),
    path("models/<slug:name>/risk-assessments/<int:pk>/override/", risk.RiskOverrideView.as_view(),
         name="riskassessment-override"),
    path("models/<slug:name>/use-restrictions/", restrictions.UseRestrictionListView.as_view(),
         name="userestriction-list"),
    path("models/<slug:name>/use-restrictions/<int:pk>/withdraw/",
         restrictions.UseRestrictionWithdrawView.as_view(), name="userestriction-withdraw"),
    path("document-templates/", docs.TemplateListView.as_view(), name="documenttemplate-list"),
    path(V + "documents/", docs.VersionDocumentsView.as_view(), name="version-documents"),
    path(V + "documentation-status/", docs.DocumentationStatusView.as_view(),
         name="version-documentation-status"),
    path(V + "coverage/", docs.CoverageView.as_view(), name="version-coverage"),
    path(V + "documentation-pack/", docs.VersionPackExportView.as_view(), name="version-pack"),
    path(V + "governance-gates/", docs.GovernanceGatesView.as_view(), name="version-governance-gates"),
    path("documents/<int:pk>/", docs.DocumentDetailView.as_view(), name="document-detail"),
    path("documents/<int:pk>/sections/<slug:key>/", docs.DocumentSectionView.as_view(),
         name="document-section"),
    path("documents/<int:pk>/fields/", docs.DocumentFieldsView.as_view(), name="document-fields"),
    path("documents/<int:pk>/revisions/", docs.DocumentRevisionsView.as_view(),
         name="document-revisions"),
    path("documents/<int:pk>/revisions/<int:number>/", docs.DocumentRevisionDiffView.as_view(),
         name="document-revision"),
    path("documents/<int:pk>/sign-off/", docs.DocumentSignOffView.as_view(), name="document-signoff"),
    path("documents/<int:pk>/attachments/", docs.DocumentAttachmentsView.as_view(),
         name="document-attachments"),
    path("documents/<int:pk>/attachments/<int:attachment_id>/",
         docs.DocumentAttachmentDownloadView.as_view(), name="document-attachment"),
    path("documents/<int:pk>/export/", docs.DocumentExportView.as_view(), name="document-export"),
    path("findings/", findings.FindingListView.as_view(), name="finding-list"),
    path("findings/<int:pk>/", findings.FindingDetailView.as_view(), name="finding-detail"),
    path("findings/<int:pk>/responses/", findings.FindingRespondView.as_view(),
         name="finding-responses"),
    path("findings/<int:pk>/transition/", findings.FindingTransitionView.as_view(),
         name="finding-transition"),
    path("reviews/overdue/", findings.OverdueReviewsView.as_view(), name="reviews-overdue"),
    path("models/<slug:name>/monitoring-plan/", monitoring.MonitoringPlanView.as_view(),
         name="monitoring-plan"),
    path("models/<slug:name>/monitoring-crossings/", monitoring.MonitoringCrossingsView.as_view(),
         name="monitoring-crossings"),
    path("incident-clocks/", monitoring.IncidentClockListView.as_view(), name="incident-clocks"),
    path("incidents/", monitoring.IncidentListView.as_view(), name="incident-list"),
    path("incidents/<int:pk>/", monitoring.IncidentDetailView.as_view(), name="incident-detail"),
    path("incidents/<int:pk>/transition/", monitoring.IncidentTransitionView.as_view(),
         name="incident-transition"),
    path("incidents/<int:pk>/reclassify/", monitoring.IncidentReclassifyView.as_view(),
         name="incident-reclassify"),
    path("incidents/<int:pk>/export/", monitoring.IncidentExportView.as_view(),
         name="incident-export"),
]
