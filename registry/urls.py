"""Portal pages of the registry (namespace `registry`)."""

from django.urls import path

from registry import views
from registry import views_governance as gov

V = "models/<slug:name>/v<int:version>/"

urlpatterns = [
    path("models/", views.inventory, name="inventory"),
    path("models/<slug:name>/", views.model_detail, name="model-detail"),
    path(V, views.version_detail, name="version-detail"),
    path(V + "documents/", gov.document_start, name="version-document-start"),
    path(V + "coverage/", gov.version_coverage, name="version-coverage"),
    path("models/<slug:name>/risk/", gov.risk_assessment, name="risk"),
    path("models/<slug:name>/risk/override/", gov.risk_override, name="risk-override"),
    path("models/<slug:name>/findings/new/", gov.finding_open, name="finding-open"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/<slug:name>/", views.dataset_detail, name="dataset-detail"),
    path("lineage/", views.lineage, name="lineage"),
    path("production-on/", views.production_on, name="production-on"),
]
